"""Ticket lookup for progress calls (T24 14: the caller may query progress and result)."""

from __future__ import annotations

from typing import Any

import pytest

from hotline_tui.services import callers, intake
from hotline_tui.services import dispatch as dp
from hotline_tui.services.lookup import SUFFIX_DAYS, lookup_tickets
from hotline_tui.services.queries import TicketRow
from tests.conftest import World


def new_ticket(w: World, text: str, phone: str = "13812345678", **kw: Any) -> str:
    form = intake.IntakeForm("complaint", "phone", text, caller_phone=phone, **kw)
    return intake.create_ticket(w.as_("agent1"), form).no


def nos(rows: list[TicketRow]) -> list[str]:
    return [r.no for r in rows]


def test_lookup_by_number_suffix_phone_and_words(world: World) -> None:
    w = world  # Fri 2025-01-24 16:00
    first = new_ticket(w, "友谊路与南京路交口路灯不亮，晚上看不清路")
    assert first == "TJ20250124-000001"
    w.at("2025-01-27T09:00:00")
    lamp = new_ticket(w, "卫津路路灯不亮好几天了", phone="13900001111")
    other = new_ticket(w, "阳光小区电梯坏了", phone="13900001111")
    dp.dispatch(w.as_("agent1"), lamp, ["HX-CG"])
    a = w.as_("agent1")
    # the full number, in any case, with full-width digits or spaces
    assert nos(lookup_tickets(a, first)) == [first]
    assert nos(lookup_tickets(a, first.lower())) == [first]
    assert nos(lookup_tickets(a, "ＴＪ２０２５０１２４－０００００１")) == [first]
    # the number without the prefix, with or without the hyphen
    assert nos(lookup_tickets(a, "20250124-000001")) == [first]
    assert nos(lookup_tickets(a, "20250124000001")) == [first]
    assert nos(lookup_tickets(a, "20250124-1")) == [first]
    # the part after the date: that sequence on each recent day, newest first
    assert nos(lookup_tickets(a, "000001")) == ["TJ20250127-000001", first]
    assert nos(lookup_tickets(a, "2")) == [other]
    # the receipt day
    assert nos(lookup_tickets(a, "20250127")) == [other, lamp]
    # the caller's number, however typed
    assert nos(lookup_tickets(a, "139 0000 1111")) == [other, lamp]
    assert nos(lookup_tickets(a, "+86 13812345678")) == [first]
    # words of the demand (all of them)
    assert nos(lookup_tickets(a, "路灯")) == [lamp, first]
    assert nos(lookup_tickets(a, "路灯 卫津路")) == [lamp]
    assert lookup_tickets(a, "路灯 电梯") == []
    row = lookup_tickets(a, lamp)[0]
    assert row.status == "办理中" and row.units == "河西区城市管理委员会" and row.due_at
    assert row.summary.startswith("卫津路路灯不亮")


def test_lookup_by_suffix_is_bounded_by_recent_days(sqlite_world: World) -> None:
    w = sqlite_world
    old = new_ticket(w, "很久以前反映过的友谊路积水")
    w.at("2025-06-01T09:00:00")
    assert SUFFIX_DAYS < 128
    assert lookup_tickets(w.as_("agent1"), "000001") == []
    assert nos(lookup_tickets(w.as_("agent1"), old)) == [old]  # the full number always works


def test_a_mobile_number_that_looks_like_a_date_is_still_a_phone(sqlite_world: World) -> None:
    w = sqlite_world
    no = new_ticket(w, "友谊路积水", phone="19901011234")  # 19901011 would be a date
    assert nos(lookup_tickets(w.as_("agent1"), "19901011234")) == [no]


def test_liaison_sees_only_their_units_tickets(world: World) -> None:
    w = world
    mine = new_ticket(w, "友谊路路灯不亮")
    theirs = new_ticket(w, "友谊路楼房漏水")
    waiting = new_ticket(w, "友谊路路灯杆歪了")
    dp.dispatch(w.as_("agent1"), mine, ["HX-CG-ZM"])  # a sub-unit of HX-CG
    dp.dispatch(w.as_("agent1"), theirs, ["HX-ZJ"])
    assert nos(lookup_tickets(w.as_("cg"), "友谊路")) == [mine]  # HX-CG sees its sub-unit's order
    row = lookup_tickets(w.as_("cg"), mine)[0]
    assert row.status == "待接单" and row.units == "河西区城管委照明所"  # their assignment's state
    assert lookup_tickets(w.as_("cg"), theirs) == []
    assert lookup_tickets(w.as_("cg"), waiting) == []  # not dispatched to anybody
    assert nos(lookup_tickets(w.as_("cg"), "13812345678")) == [mine]  # a phone finds only their orders
    dp.dispatch(w.as_("agent1"), waiting, ["HX-CG"])
    assert set(nos(lookup_tickets(w.as_("cg"), "13812345678"))) == {mine, waiting}
    assert nos(lookup_tickets(w.as_("zj"), "友谊路")) == [theirs]
    for name in ("agent1", "disp1", "cb1", "sup1"):
        assert set(nos(lookup_tickets(w.as_(name), "友谊路"))) == {mine, theirs, waiting}, name
    for name in ("kb1", "admin1"):
        assert lookup_tickets(w.as_(name), "友谊路") == [], name


def test_lookup_edges(sqlite_world: World) -> None:
    w = sqlite_world
    new_ticket(w, "友谊路路灯不亮")
    a = w.as_("agent1")
    for query in ("", "   ", "0", "000000", "路", "%", "_", "\x00", "TJ2025-13-01-000001", "99999999"):
        assert lookup_tickets(a, query) == [], query
    assert len(lookup_tickets(a, "友谊路", limit=0)) == 0
    for i in range(3):
        new_ticket(w, f"友谊路第{i}盏路灯不亮")
    assert len(lookup_tickets(a, "友谊路", limit=2)) == 2


def test_word_search_reads_only_the_newest_tickets(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # bounded on any store: a word search reads the newest SCAN_ROWS tickets of the window, no more
    w = sqlite_world
    old = new_ticket(w, "友谊路井盖丢了")
    for i in range(3):
        w.at(f"2025-01-25T0{i + 1}:00:00")
        new_ticket(w, f"卫津路第{i}号楼前积水")
    a = w.as_("agent1")
    assert nos(lookup_tickets(a, "井盖")) == [old]
    monkeypatch.setattr(callers, "SCAN_ROWS", 3)
    assert lookup_tickets(a, "井盖") == []
    assert len(lookup_tickets(a, "积水")) == 3
    assert nos(lookup_tickets(a, old)) == [old]  # numbers and phones are indexed lookups, never cut


def test_a_finished_order_still_names_the_unit_that_handled_it(sqlite_world: World) -> None:
    """A progress call about a finished order: who handled it is what the caller asks (T24 14)."""
    from hotline_tui.services import handling as hd
    from hotline_tui.services import review as rv
    from tests.test_lifecycle import GOOD_REPLY

    w = sqlite_world
    no = new_ticket(w, "友谊路路灯不亮")
    [a] = dp.dispatch(w.as_("disp1"), no, ["HX-CG"])
    hd.accept(w.as_("cg"), a.id or 0)
    w.at("2025-01-27T10:00:00")
    hd.reply(w.as_("cg"), a.id or 0, GOOD_REPLY)
    rv.review_reply(w.as_("disp1"), a.id or 0, approve=True)
    [row] = lookup_tickets(w.as_("agent1"), no)
    assert row.status == "待回访" and row.units == "河西区城市管理委员会" and row.due_at is None
