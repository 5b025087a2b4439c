"""The inbox read model on both backends: rows merged across a parent unit's units in deadline order, the
limit, finished tabs newest first with a capped count, and the pulse."""

from __future__ import annotations

import pytest

from hotline_tui.services import handling as hd
from hotline_tui.services import inbox
from hotline_tui.services import review as rv
from hotline_tui.services.dispatch import dispatch
from hotline_tui.services.intake import IntakeForm, create_ticket
from tests.conftest import World

GOOD_REPLY = (
    "1月27日9时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)


def order(w: World, text: str, unit: str, at: str) -> tuple[str, int]:
    no = create_ticket(w.at(at).as_("agent1"), IntakeForm(type="complaint", channel="phone", text=text)).no
    [a] = dispatch(w.at(at).as_("disp1"), no, [unit])
    return no, a.id or 0


def test_a_parent_units_rows_merge_its_units_in_deadline_order(world: World) -> None:
    w = world
    a, _ = order(w, "路灯不亮", "HX-CG", "2025-01-24T10:00:00")
    b, _ = order(w, "景观灯常亮", "HX-CG-ZM", "2025-01-24T09:00:00")
    c, _ = order(w, "占道经营", "HX-CG", "2025-01-24T11:00:00")
    d, _ = order(w, "电梯停运", "HX-ZJ", "2025-01-24T08:00:00")  # not theirs
    data = inbox.load_inbox(w.at("2025-01-24T11:30:00").as_("cg"))
    assert [r.no for r in data.rows["pending"]] == [b, a, c] and data.counts["pending"] == 3
    assert [r.no for r in inbox.load_inbox(w.as_("cg"), limit=2).rows["pending"]] == [b, a]  # the nearest two
    assert [r.no for r in inbox.load_inbox(w.as_("zm")).rows["pending"]] == [b]  # a sub-unit: its own only
    assert d not in [r.no for r in data.rows["pending"]]


def test_finished_tabs_newest_first_and_counted_up_to_the_cap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    done = []
    for i, text in enumerate(("路灯不亮", "井盖缺失", "树木倒伏")):
        no, aid = order(w, text, "HX-CG", f"2025-01-24T1{i}:00:00")
        hd.accept(w.as_("cg"), aid)
        hd.reply(w.as_("cg"), aid, GOOD_REPLY)
        rv.review_reply(w.at(f"2025-01-27T1{i}:00:00").as_("disp1"), aid, approve=True)
        done.append(no)
    data = inbox.load_inbox(w.as_("cg"))
    assert [r.no for r in data.rows["done"]] == done[::-1] and data.counts["done"] == 3 and not data.capped
    monkeypatch.setattr(inbox, "FINISHED_COUNT_CAP", 2)
    monkeypatch.setattr(inbox, "FINISHED_ROWS", 1)
    data = inbox.load_inbox(w.as_("cg"))
    assert data.counts["done"] == 2 and data.capped == {"done"}  # shown as 2+
    assert [r.no for r in data.rows["done"]] == [done[-1]]


def test_pulse_counts_new_orders_once_and_warns_once(world: World) -> None:
    w = world
    order(w, "路灯不亮", "HX-CG", "2025-01-24T16:00:00")
    first = inbox.inbox_pulse(w.at("2025-01-24T16:05:00").as_("cg"), None)
    assert first.pending == 1 and first.new_orders == () and first.due_soon == 0
    no, _ = order(w, "景观灯常亮", "HX-CG-ZM", "2025-01-24T16:10:00")
    second = inbox.inbox_pulse(w.at("2025-01-24T18:30:00").as_("cg"), first.last_assignment_id, first.warned)
    assert [x.no for x in second.new_orders] == [no] and second.pending == 2
    # both are amber (30 and 40 minutes to accept); the new one is announced as new, not warned twice
    assert second.due_soon == 2 and [x.text for x in second.running_out] == ["接单剩30分"]
    third = inbox.inbox_pulse(w.as_("cg"), second.last_assignment_id, second.warned)
    assert third.new_orders == () and third.running_out == ()


def test_queue_command_for_the_centre_and_for_a_unit(
    sqlite_world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from hotline_tui.cli import main

    w = sqlite_world
    no, _ = order(w, "路灯不亮", "HX-CG", "2025-01-24T10:00:00")
    waiting = create_ticket(
        w.as_("agent1"), IntakeForm(type="consult", channel="phone", text="咨询公积金")
    ).no
    url = w.engine.url.render_as_string(hide_password=False)
    at = ["--db", url, "--now", "2025-01-24T11:00:00"]
    assert main([*at, "--user", "disp1", "--json", "queue"]) == 0
    centre = json.loads(capsys.readouterr().out)
    assert centre["counts"]["dispatch"] == 1 and centre["queues"]["dispatch"][0]["no"] == waiting
    assert main([*at, "--user", "cg", "--json", "queue"]) == 0
    unit = json.loads(capsys.readouterr().out)
    assert unit["counts"]["pending"] == 1 and unit["tabs"]["pending"][0]["no"] == no
    assert main([*at, "--user", "cg", "queue"]) == 0
    assert f"待接单 1\n  {no}" in capsys.readouterr().out
    assert main([*at, "--user", "agent1", "queue"]) == 2
    assert "无权查看中心审核队列" in capsys.readouterr().err
