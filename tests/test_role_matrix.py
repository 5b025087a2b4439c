"""Every guarded service called as every role: allowed roles succeed, the others get PermissionDenied
(issue 4 point 2; T24 19, 27: "谁管理、谁使用、谁负责" — access is controlled in the services, not the screens)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hotline_tui.errors import PermissionDenied
from hotline_tui.services import admin, audit, callback, dispatch, handling, intake, privacy, queries, review
from hotline_tui.services.core import SYSTEM, Ctx
from tests.conftest import World
from tests.test_lifecycle import GOOD_REPLY, accepted, dispatched, new_ticket

ROLE_USERS = {
    "agent": "agent1",
    "dispatcher": "disp1",
    "liaison": "cg",
    "callback": "cb1",
    "supervisor": "sup1",
    "kb_editor": "kb1",
    "trainer": "trainer1",
    "trainee": "trainee1",
    "admin": "admin1",
}


def _replied(w: World) -> tuple[str, int]:
    no, aid = accepted(w)
    handling.reply(w.as_("cg"), aid, GOOD_REPLY)
    return no, aid


def _in_callback(w: World) -> str:
    no, aid = _replied(w)
    review.review_reply(w.as_("disp1"), aid, approve=True)
    return no


def _form() -> intake.IntakeForm:
    return intake.IntakeForm("consult", "phone", "想问一下社保卡丢了怎么补办")


# service -> (prepare the store, then the call as a ctx; the roles allowed)
CASES: dict[str, tuple[Callable[[World], Callable[[Ctx], Any]], set[str]]] = {
    "create_ticket": (lambda w: lambda c: intake.create_ticket(c, _form()), {"agent", "dispatcher", "supervisor", "trainer", "trainee"}),
    "dispatch": (lambda w: (lambda no: lambda c: dispatch.dispatch(c, no, ["HX-CG"]))(new_ticket(w)), {"agent", "dispatcher", "supervisor"}),
    "accept": (lambda w: (lambda na: lambda c: handling.accept(c, na[1]))(dispatched(w)), {"liaison"}),
    "reply": (lambda w: (lambda na: lambda c: handling.reply(c, na[1], GOOD_REPLY))(accepted(w)), {"liaison"}),
    "review_reply": (lambda w: (lambda na: lambda c: review.review_reply(c, na[1], approve=True))(_replied(w)), {"dispatcher", "supervisor"}),
    "callback": (lambda w: (lambda no: lambda c: callback.record_callback(c, no, reached=True, satisfaction="satisfied"))(_in_callback(w)), {"callback", "supervisor"}),
    "ticket_detail": (lambda w: (lambda na: lambda c: queries.ticket_detail(c, na[0]))(dispatched(w)), {"agent", "dispatcher", "callback", "supervisor", "liaison"}),
    "add_user": (lambda w: lambda c: admin.add_user(c, "newcomer", "agent"), {"admin"}),
    "audit_log": (lambda w: lambda c: audit.audit_log(c), {"supervisor", "admin"}),
    "reveal_caller": (lambda w: (lambda na: lambda c: privacy.reveal_caller(c, na[0], "联系诉求人核实"))(dispatched(w)), {"agent", "dispatcher", "callback", "supervisor", "liaison"}),
    "export_masked": (lambda w: lambda c: privacy.export_tickets(c), {"dispatcher", "supervisor", "liaison"}),
    "export_full": (lambda w: lambda c: privacy.export_tickets(c, full=True, reason="上级检查抽查"), {"supervisor"}),
}  # fmt: skip


@pytest.mark.parametrize("role", sorted(ROLE_USERS))
@pytest.mark.parametrize("service", sorted(CASES))
def test_each_service_as_each_role(sqlite_world: World, service: str, role: str) -> None:
    w = sqlite_world
    system = Ctx(w.engine, w.policy, SYSTEM, w.clock)
    admin.add_user(system, "trainer1", "trainer")
    admin.add_user(system, "trainee1", "trainee")
    prepare, allowed = CASES[service]
    call = prepare(w)
    ctx = w.as_(ROLE_USERS[role])
    if role in allowed:
        call(ctx)
    else:
        with pytest.raises(PermissionDenied) as exc:
            call(ctx)
        assert "无权" in exc.value.message or "未派给您所在单位" in exc.value.message


def test_a_liaison_cannot_act_outside_their_unit(sqlite_world: World) -> None:
    w = sqlite_world
    no, aid = dispatched(w, "SW")  # the water utility's order
    with pytest.raises(PermissionDenied):
        handling.accept(w.as_("cg"), aid)
    with pytest.raises(PermissionDenied):
        queries.ticket_detail(w.as_("cg"), no)
