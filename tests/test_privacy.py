"""Caller personal data: masking, who sees what, reveal with a reason, masked exports, replies that
would leak other people's data (T24 11, 14, 19, 27; GZ 25; TA 28)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from hotline_tui.cli import main
from hotline_tui.db import read_session
from hotline_tui.errors import InvalidInput, PermissionDenied
from hotline_tui.models import Event, Ticket
from hotline_tui.policy import load_policy
from hotline_tui.privacy import (
    find_pii,
    id_number_problem,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_text,
)
from hotline_tui.services import callback, handling, intake, review
from hotline_tui.services.privacy import export_tickets, reveal_caller, write_export
from hotline_tui.services.queries import ticket_detail
from hotline_tui.services.reply_check import check_reply
from tests.conftest import World
from tests.test_lifecycle import GOOD_REPLY, accepted, dispatched, new_ticket

ID_OK = "11010519491231002X"  # the standard's own example (GB 11643-1999)
TEXT_WITH_PII = "我叫李四，电话13900001111，身份证11010519491231002X，楼下饭馆油烟直排进我家窗户，希望查处"


def pii_events(w: World, no: str) -> list[tuple[str, dict[str, object]]]:
    with read_session(w.engine) as s:
        t = s.exec(select(Ticket).where(Ticket.no == no)).one()
        rows = s.exec(select(Event).where(Event.ticket_id == t.id).order_by(col(Event.id)))
        return [(e.kind, dict(e.payload)) for e in rows if e.kind.startswith("pii_")]


# ---------------------------------------------------------------- pure functions


def test_masks_keep_only_what_identifies_nobody() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_name("张三") == "张*" and mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number(ID_OK) == "1101**********002X"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (ID_OK, None),
        ("110105194912310021", "校验位"),  # one digit off
        ("11010519491331002X", "格式"),  # month 13
        ("1101051949123100", "18位"),
    ],
)
def test_id_number_checked_by_gb11643(value: str, problem: str | None) -> None:
    found = id_number_problem(value)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_personal_data_found_inside_free_text() -> None:
    text = "车主（津A·12345）电话 139-0000-1111，身份证11010519491231002X，办公室022-23456789，工单TJ20250124-000123"
    kinds = [(h.kind, h.key) for h in find_pii(text)]
    assert kinds == [
        ("plate", "津A12345"),
        ("mobile", "13900001111"),
        ("id_number", "11010519491231002X"),
        ("landline", "02223456789"),
    ]
    masked = mask_text(text)
    assert "13900001111" not in masked.replace("-", "") and "139****1111" in masked
    assert "1101**********002X" in masked and "TJ20250124-000123" in masked  # ticket numbers untouched


# ---------------------------------------------------------------- who sees what (T24 19, 27)


def test_everyone_sees_masked_until_a_reason_is_given(world: World) -> None:
    no = new_ticket(world, text=TEXT_WITH_PII, caller_id_number=ID_OK, caller_address="河西区友谊路5号楼301")
    for user in ("agent1", "disp1", "sup1", "cb1"):
        d = ticket_detail(world.as_(user), no)
        assert d["caller"]["phone"] == "138****5678" and d["caller"]["masked"]
        assert d["caller"]["id_number"] == "1101**********002X"
        assert d["caller"]["address"] == "河西区友谊路***"
        assert "13900001111" not in d["text"] and "11010519491231002X" not in d["text"]  # the words too
        assert d["caller"]["can_reveal"]
    assert pii_events(world, no) == []  # masked views are not personal-data views
    full = reveal_caller(world.as_("disp1"), no, "派单前核实诉求人地址")
    assert full["fields"]["phone"] == "13812345678" and full["fields"]["id_number"] == ID_OK
    assert "13900001111" in full["text"]
    kind, payload = pii_events(world, no)[-1]
    assert kind == "pii_revealed" and payload["reason"] == "派单前核实诉求人地址"
    assert "13812345678" not in json.dumps(payload, ensure_ascii=False)  # the trail names fields, not values


def test_reveal_refusals_change_nothing(world: World) -> None:
    no = new_ticket(world)
    for user, reason, err, words in (
        ("disp1", "看", InvalidInput, "查看理由"),
        ("disp1", "   ", InvalidInput, "查看理由"),
        ("kb1", "核实一下情况", PermissionDenied, "无权查看"),
        ("admin1", "核实一下情况", PermissionDenied, "无权查看"),
        ("cg", "联系诉求人核实", PermissionDenied, "无权查看"),  # not dispatched to their unit
    ):
        with pytest.raises(err, match=words):
            reveal_caller(world.as_(user), no, reason)
    assert pii_events(world, no) == []


def test_unit_sees_masked_reveals_while_handling_and_never_on_confidential(world: World) -> None:
    no, aid = accepted(world)
    d = ticket_detail(world.as_("cg"), no)
    assert d["caller"]["phone"] == "138****5678" and d["caller"]["can_reveal"]
    assert reveal_caller(world.as_("cg"), no, "上门核查前联系诉求人")["fields"]["phone"] == "13812345678"
    handling.reply(world.as_("cg"), aid, GOOD_REPLY)
    review.review_reply(world.as_("disp1"), aid, approve=True)
    # the unit's part is over: no more reason to reach the caller  # T24 27 谁使用、谁负责
    assert not ticket_detail(world.as_("cg"), no)["caller"]["can_reveal"]
    with pytest.raises(PermissionDenied, match="办理已结束"):
        reveal_caller(world.as_("cg"), no, "再看一下电话")
    secret = new_ticket(world, confidential=True, text=TEXT_WITH_PII)
    from hotline_tui.services import dispatch as dp

    dp.dispatch(world.as_("agent1"), secret, ["HX-CG"])
    d = ticket_detail(world.as_("cg"), secret)
    assert {d["caller"][f] for f in ("name", "phone", "address", "id_number")} == {"（保密）"}  # T24 14
    assert "13900001111" not in d["text"] and not d["caller"]["can_reveal"]
    with pytest.raises(PermissionDenied, match="保密"):
        reveal_caller(world.as_("cg"), secret, "联系诉求人核实")


def test_callback_officer_sees_the_number_to_call_and_it_is_audited(world: World) -> None:
    no, aid = accepted(world)
    handling.reply(world.as_("cg"), aid, GOOD_REPLY)
    assert ticket_detail(world.as_("cb1"), no)["caller"]["masked"]  # not yet their work
    review.review_reply(world.as_("disp1"), aid, approve=True)
    d = ticket_detail(world.as_("cb1"), no)
    assert d["caller"]["phone"] == "13812345678" and not d["caller"]["masked"]
    assert pii_events(world, no)[-1][0] == "pii_viewed"
    callback.record_callback(world.as_("cb1"), no, reached=True, satisfaction="satisfied")
    assert ticket_detail(world.as_("cb1"), no)["caller"]["masked"]  # closed: masked again


def test_intake_refuses_a_wrong_id_number_and_stores_nothing(world: World) -> None:
    with pytest.raises(InvalidInput, match="校验位"):
        intake.create_ticket(
            world.as_("agent1"),
            intake.IntakeForm(
                "complaint", "phone", "小区门口路灯坏了一周", caller_id_number="110105194912310021"
            ),
        )
    with read_session(world.engine) as s:
        assert s.exec(select(Ticket)).first() is None


# ---------------------------------------------------------------- exports


def test_export_masks_by_default_and_full_export_is_audited(world: World, tmp_path: Path) -> None:
    no = new_ticket(world, text=TEXT_WITH_PII, caller_id_number=ID_OK)
    rows = export_tickets(world.as_("disp1"))
    assert [r["caller_phone"] for r in rows] == ["138****5678"]
    assert "13900001111" not in rows[0]["text"] and rows[0]["caller_id_number"] == "1101**********002X"
    out = tmp_path / "t.csv"
    write_export(rows, out, "csv")
    assert out.stat().st_mode & 0o077 == 0  # a file of caller data is the owner's only
    with out.open(encoding="utf-8-sig") as f:
        table = list(csv.reader(f))
    assert table[0][:2] == ["工单编号", "受理时间"] and table[1][0] == no
    with pytest.raises(PermissionDenied):
        export_tickets(world.as_("disp1"), full=True, reason="上级检查抽查")
    with pytest.raises(InvalidInput, match="导出理由"):
        export_tickets(world.as_("sup1"), full=True, reason="")
    full = export_tickets(world.as_("sup1"), full=True, reason="上级检查抽查")
    assert full[0]["caller_phone"] == "13812345678"
    with read_session(world.engine) as s:
        kinds = [e.kind for e in s.exec(select(Event).order_by(col(Event.id)))]
    assert kinds.count("pii_exported") == 1 and kinds.count("tickets_exported") == 1


def test_unit_export_holds_only_its_orders_and_hides_confidential_callers(world: World) -> None:
    mine, _ = dispatched(world)
    new_ticket(world)  # not dispatched: not theirs
    secret = new_ticket(world, confidential=True)
    from hotline_tui.services import dispatch as dp

    dp.dispatch(world.as_("agent1"), secret, ["HX-CG"])
    rows = {r["no"]: r for r in export_tickets(world.as_("cg"))}
    assert set(rows) == {mine, secret}
    assert rows[mine]["caller_phone"] == "138****5678" and rows[secret]["caller_phone"] == "（保密）"


def test_export_and_reveal_from_the_command_line(world: World, tmp_path: Path) -> None:
    if world.backend != "sqlite":
        pytest.skip("the command line is covered on SQLite; the services run on both")
    no = new_ticket(world)
    url = str(world.engine.url)
    out = tmp_path / "x.jsonl"
    assert main(["--db", url, "--user", "disp1", "ticket", "export", "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["caller_phone"] == "138****5678"
    assert main(["--db", url, "--user", "disp1", "ticket", "export", "--out", str(out), "--full"]) == 2
    assert main(["--db", url, "--user", "cg", "ticket", "reveal", no, "--reason", "联系诉求人"]) == 2
    assert (
        main(["--db", url, "--user", "disp1", "--json", "ticket", "reveal", no, "--reason", "核实诉求人身份"])
        == 0
    )


# ---------------------------------------------------------------- replies (T24 19)

STAFF_CONTACT = (
    "1月27日9时，区城管委工作人员王明（电话13822223333）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)


@pytest.mark.parametrize("policy", ["tianjin", "guangzhou", "taian", "tianjin-2015"])
def test_reply_with_other_peoples_data_is_refused_citing_the_profile(policy: str) -> None:
    p = load_policy(policy)
    leak = STAFF_CONTACT.replace(
        "诉求人表示满意", "肇事车辆津B67890车主赵某（13911112222，身份证11010519491231002X）已赔偿"
    )
    found = {f.code: f.message for f in check_reply(leak, p).findings if f.code.startswith("privacy:")}
    assert set(found) == {"privacy:mobile", "privacy:id_number", "privacy:plate"}
    assert "139****2222" in found["privacy:mobile"] and "13911112222" not in found["privacy:mobile"]
    assert p.reply.cite_privacy in found["privacy:plate"]
    # the staff's own contact is what TTR 16(1) asks for; the caller's own data is the caller's
    assert not [f for f in check_reply(STAFF_CONTACT, p).findings if f.code.startswith("privacy:")]
    split = STAFF_CONTACT.replace("王明（电话13822223333）", "王明，电话：13822223333，")
    assert not [f for f in check_reply(split, p).findings if f.code.startswith("privacy:")]
    mine = STAFF_CONTACT.replace("诉求人表示满意", "您反映的车辆津B67890已处理，诉求人表示满意")
    assert not [
        f
        for f in check_reply(mine, p, known=["我家门口停着津B67890三天了"]).findings
        if f.code.startswith("privacy:")
    ]


def test_unit_reply_leaking_a_third_party_is_refused_and_not_stored(world: World) -> None:
    no, aid = accepted(world)
    leak = GOOD_REPLY.replace("诉求人表示满意", "施工方负责人手机13911112222已告知诉求人，诉求人表示满意")
    with pytest.raises(Exception, match="他人的手机号码"):
        handling.reply(world.as_("cg"), aid, leak)
    assert ticket_detail(world.as_("disp1"), no)["assignments"][0]["status"] == "handling"
