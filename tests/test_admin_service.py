"""The administrator's services: users, units and the policy profile, on SQLite and PostgreSQL.

Every action writes its change and exactly one event; every refusal raises a Chinese message and leaves
every row as it was; only administrators may act.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from sqlmodel import col, select

from hotline_tui.db import read_session
from hotline_tui.errors import HotlineError, InvalidInput, NotFound, PermissionDenied
from hotline_tui.models import Event, Setting, Unit, User
from hotline_tui.services import admin
from hotline_tui.services.accounts import MAX_FAILURES, AccountLocked, LoginFailed, authenticate
from hotline_tui.services.core import SYSTEM, Ctx
from hotline_tui.services.dispatch import dispatch
from hotline_tui.store import active_policy_name, open_ctx
from tests.conftest import World
from tests.test_lifecycle import dispatched, new_ticket

PW = "Hotline2025a"


def snapshot(w: World) -> tuple[Any, ...]:
    """Every row an admin action may touch, and the event count."""
    with read_session(w.engine) as s:
        users = [str(u.model_dump()) for u in s.exec(select(User).order_by(col(User.id)))]
        units = [str(u.model_dump()) for u in s.exec(select(Unit).order_by(col(Unit.id)))]
        settings = [str(r.model_dump()) for r in s.exec(select(Setting).order_by(col(Setting.key)))]
        events = len(s.exec(select(Event.id)).all())
    return tuple(users), tuple(units), tuple(settings), events


def refused(w: World, call: Callable[[], Any], fragment: str, kind: type[HotlineError] = InvalidInput) -> str:
    """The call raises ``kind`` with a Chinese message containing ``fragment`` and changes nothing."""
    before = snapshot(w)
    with pytest.raises(kind) as exc:
        call()
    assert fragment in exc.value.message, exc.value.message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)
    assert snapshot(w) == before
    return exc.value.message


def events(w: World, kind: str) -> list[Event]:
    with read_session(w.engine) as s:
        return list(s.exec(select(Event).where(Event.kind == kind).order_by(col(Event.id))))


def one_new_event(w: World, before: int, kind: str) -> dict[str, Any]:
    """Exactly one event was written since ``before`` (an event count), of ``kind``; its payload."""
    with read_session(w.engine) as s:
        new = list(s.exec(select(Event).order_by(col(Event.id)).offset(before)))
    assert [e.kind for e in new] == [kind]
    assert new[0].actor == "admin1"
    return dict(new[0].payload)


def event_count(w: World) -> int:
    with read_session(w.engine) as s:
        return len(s.exec(select(Event.id)).all())


def user(w: World, name: str) -> User:
    with read_session(w.engine) as s:
        return s.exec(select(User).where(User.name == name)).one()


def unit(w: World, code: str) -> Unit:
    with read_session(w.engine) as s:
        return s.exec(select(Unit).where(Unit.code == code)).one()


def parent_code(w: World, code: str) -> str | None:
    with read_session(w.engine) as s:
        u = s.exec(select(Unit).where(Unit.code == code)).one()
        if u.parent_id is None:
            return None
        p = s.get(Unit, u.parent_id)
        assert p is not None
        return p.code


def system(w: World) -> Ctx:
    return Ctx(w.engine, w.policy, SYSTEM, w.clock)


# ---------------------------------------------------------------- users


def test_add_user_writes_event_and_refuses_bad_input(world: World) -> None:
    w = world
    a = w.as_("admin1")
    n = event_count(w)
    admin.add_user(a, "liu", "kb_editor", "HX-CG", PW, display_name="刘洋")
    payload = one_new_event(w, n, "user_added")
    assert payload == {"user": "liu", "role": "kb_editor", "unit": "HX-CG"}
    assert PW not in json.dumps(payload, ensure_ascii=False)
    assert user(w, "liu").display_name == "刘洋"
    assert authenticate(w.engine, "liu", PW, now=w.clock.now()).unit_id == unit(w, "HX-CG").id

    refused(w, lambda: admin.add_user(a, "liu", "agent"), "用户已存在")
    refused(w, lambda: admin.add_user(a, "li4", "liaison"), "必须指定所属单位")
    refused(w, lambda: admin.add_user(a, "li4", "liaison", "NOPE"), "单位不存在", NotFound)
    refused(w, lambda: admin.add_user(a, "li4", "boss"), "未知的角色")
    refused(w, lambda: admin.add_user(a, "li4", "agent", password="short1"), "至少8位")
    refused(w, lambda: admin.add_user(a, "li4", "agent", password="onlyletters"), "字母和数字")
    refused(w, lambda: admin.add_user(a, "li 4", "agent"), "不能包含空格")
    admin.deactivate_unit(a, "HX-ZJ")
    refused(w, lambda: admin.add_user(a, "li4", "liaison", "HX-ZJ"), "已停用")


def test_change_user_role_unit_and_name(world: World) -> None:
    w = world
    a = w.as_("admin1")
    n = event_count(w)
    result = admin.change_user(a, "cg", unit_code="HX-ZJ", display_name="陈刚")
    payload = one_new_event(w, n, "user_changed")
    assert (
        payload
        == result
        == {
            "user": "cg",
            "before": {"unit": "HX-CG", "display_name": "cg"},
            "after": {"unit": "HX-ZJ", "display_name": "陈刚"},
        }
    )
    assert w.as_("cg").actor.unit_ids == {unit(w, "HX-ZJ").id}  # the scope follows at the next login

    n = event_count(w)
    admin.change_user(a, "agent1", role="supervisor", unit_code="", display_name="agent1")
    assert one_new_event(w, n, "user_changed") == {
        "user": "agent1",
        "before": {"role": "agent"},
        "after": {"role": "supervisor"},
    }
    assert user(w, "agent1").role == "supervisor"

    admin.change_user(a, "kb1", unit_code="")  # a KB editor without a unit works for the centre
    assert user(w, "kb1").unit_id is None


def test_change_user_refusals(world: World) -> None:
    w = world
    a = w.as_("admin1")
    refused(w, lambda: admin.change_user(a, "admin1", role="agent"), "不能修改自己的角色", PermissionDenied)
    refused(w, lambda: admin.change_user(a, "agent1", role="liaison"), "必须指定所属单位")
    refused(w, lambda: admin.change_user(a, "cg", unit_code=""), "必须指定所属单位")
    refused(w, lambda: admin.change_user(a, "cg", unit_code="NOPE"), "单位不存在", NotFound)
    refused(w, lambda: admin.change_user(a, "cg", role="boss"), "未知的角色")
    refused(w, lambda: admin.change_user(a, "cg", unit_code="HX-CG", display_name="cg"), "没有需要保存的修改")
    refused(w, lambda: admin.change_user(a, "ghost", display_name="x"), "用户不存在", NotFound)
    refused(w, lambda: admin.change_user(a, "cg", display_name="名" * 65), "姓名过长")
    admin.deactivate_unit(a, "HX-ZJ")
    refused(w, lambda: admin.change_user(a, "cg", unit_code="HX-ZJ"), "已停用")
    # the last active administrator keeps the role (here the system account acts, as from the CLI)
    refused(w, lambda: admin.change_user(system(w), "admin1", role="agent"), "最后一个启用的系统管理员")
    admin.add_user(a, "admin2", "admin")
    admin.change_user(w.as_("admin2"), "admin1", role="supervisor")  # another admin remains
    assert user(w, "admin1").role == "supervisor"


def test_deactivate_and_reactivate_user(world: World) -> None:
    w = world
    a = w.as_("admin1")
    n = event_count(w)
    admin.deactivate_user(a, "agent1")
    assert one_new_event(w, n, "user_deactivated") == {"user": "agent1", "role": "agent"}
    assert not user(w, "agent1").active
    with pytest.raises(PermissionDenied, match="已停用"):
        w.as_("agent1")
    refused(w, lambda: admin.deactivate_user(a, "agent1"), "已是停用状态")

    n = event_count(w)
    admin.reactivate_user(a, "agent1")
    assert one_new_event(w, n, "user_reactivated") == {"user": "agent1", "role": "agent"}
    assert user(w, "agent1").active
    refused(w, lambda: admin.reactivate_user(a, "agent1"), "已是启用状态")

    refused(w, lambda: admin.deactivate_user(a, "admin1"), "不能停用自己的账户", PermissionDenied)
    refused(w, lambda: admin.deactivate_user(system(w), "admin1"), "最后一个启用的系统管理员")
    refused(w, lambda: admin.deactivate_user(a, "nobody"), "用户不存在", NotFound)

    # a user whose unit was deactivated meanwhile comes back only with another unit
    admin.deactivate_user(a, "zj")
    admin.deactivate_unit(a, "HX-ZJ")
    refused(w, lambda: admin.reactivate_user(a, "zj"), "所属单位 HX-ZJ")
    admin.change_user(a, "zj", unit_code="HX-CG")
    admin.reactivate_user(a, "zj")
    assert user(w, "zj").active


def test_reset_password_and_unlock(world: World) -> None:
    w = world
    a = w.as_("admin1")
    admin.reset_password(a, "cg", PW)
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            authenticate(w.engine, "cg", "Wrong9999zz", now=w.clock.now())
    with pytest.raises(AccountLocked):
        authenticate(w.engine, "cg", PW, now=w.clock.now())
    listed = {u["name"]: u for u in admin.list_users(a)}
    assert listed["cg"]["locked_until"] is not None and listed["cg"]["failed_logins"] == MAX_FAILURES
    assert listed["agent1"]["locked_until"] is None

    n = event_count(w)
    admin.unlock_account(a, "cg")
    payload = one_new_event(w, n, "account_unlocked")
    assert payload["user"] == "cg" and payload["failed_logins"] == MAX_FAILURES
    assert user(w, "cg").locked_until is None and user(w, "cg").failed_logins == 0
    assert authenticate(w.engine, "cg", PW, now=w.clock.now()).name == "cg"
    refused(w, lambda: admin.unlock_account(a, "cg"), "未被锁定")

    # an expired lock is no lock
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            authenticate(w.engine, "cg", "Wrong9999zz", now=w.clock.now())
    later = w.clock.now() + timedelta(hours=1)
    w.at(later)
    refused(w, lambda: admin.unlock_account(a, "cg"), "未被锁定")
    assert {u["name"]: u["failed_logins"] for u in admin.list_users(a)}["cg"] == 0

    new = "Another2025b"
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginFailed):
            authenticate(w.engine, "cg", "Wrong9999zz", now=w.clock.now())
    n = event_count(w)
    admin.reset_password(a, "cg", new)
    payload = one_new_event(w, n, "password_reset")
    assert payload == {"user": "cg", "unlocked": True}
    with read_session(w.engine) as s:
        stored = s.exec(select(User.password_hash).where(User.name == "cg")).one()
        dumped = json.dumps([e.payload for e in s.exec(select(Event))], ensure_ascii=False)
    assert new not in dumped and PW not in dumped and stored not in dumped
    assert authenticate(w.engine, "cg", new, now=w.clock.now()).name == "cg"

    refused(w, lambda: admin.reset_password(a, "cg", "abc"), "至少8位")
    refused(w, lambda: admin.reset_password(a, "cg", "12345678"), "字母和数字")
    refused(w, lambda: admin.reset_password(a, "ghost", PW), "用户不存在", NotFound)


# ---------------------------------------------------------------- units


def test_parse_keywords() -> None:
    assert admin.parse_keywords(" 路灯, 占道经营，垃圾、 路灯  环卫;油烟；") == [
        "路灯",
        "占道经营",
        "垃圾",
        "环卫",
        "油烟",
    ]
    assert admin.parse_keywords(["路灯 照明", "路灯"]) == ["路灯", "照明"]
    assert admin.parse_keywords("  ") == []
    with pytest.raises(InvalidInput, match="过长：21字"):
        admin.parse_keywords("路灯 " + "长" * 21)
    assert len(admin.parse_keywords(" ".join(f"词{i}" for i in range(50)))) == 50
    with pytest.raises(InvalidInput, match="最多50个"):
        admin.parse_keywords(" ".join(f"词{i}" for i in range(51)))


def test_add_unit(world: World) -> None:
    w = world
    a = w.as_("admin1")
    n = event_count(w)
    row = admin.add_unit(a, "HX-CG-HW", "河西区城管委环卫所", "sub_unit", "HX-CG", "环卫、 垃圾清运,环卫")
    payload = one_new_event(w, n, "unit_added")
    assert payload == {
        "code": "HX-CG-HW",
        "name": "河西区城管委环卫所",
        "kind": "sub_unit",
        "parent": "HX-CG",
        "keywords": ["环卫", "垃圾清运"],
    }
    assert row["active"] and row["kind_label"] == "下属单位"
    assert parent_code(w, "HX-CG-HW") == "HX-CG"
    assert unit(w, "HX-CG-HW").id in w.as_("cg").actor.unit_ids  # in the HX-CG liaison's scope
    admin.add_unit(a, "RQ", "市燃气集团", "utility")
    assert parent_code(w, "RQ") is None

    refused(w, lambda: admin.add_unit(a, "HX-CG", "新单位", "department"), "单位代码已存在")
    refused(w, lambda: admin.add_unit(a, "X 1", "新单位", "department"), "单位代码须由字母")
    refused(w, lambda: admin.add_unit(a, "", "新单位", "department"), "单位代码须由字母")
    refused(w, lambda: admin.add_unit(a, "X1", "市水务集团", "department"), "已有同名单位")
    refused(w, lambda: admin.add_unit(a, "X1", " ", "department"), "单位名称不能为空")
    refused(w, lambda: admin.add_unit(a, "X1", "新单位", "ministry"), "未知的单位类型")
    refused(w, lambda: admin.add_unit(a, "X1", "新单位", "department", "NOPE"), "上级单位不存在", NotFound)
    refused(
        w, lambda: admin.add_unit(a, "X1", "新单位", "department", keywords="长" * 21), "每个关键词最多20字"
    )
    admin.deactivate_unit(a, "HX-ZJ")
    refused(w, lambda: admin.add_unit(a, "X1", "新单位", "department", "HX-ZJ"), "已停用")


def test_change_unit_name_kind_and_keywords(world: World) -> None:
    w = world
    a = w.as_("admin1")
    n = event_count(w)
    result = admin.change_unit(a, "HX-CG", keywords="路灯, 占道经营 垃圾、照明、路灯")
    assert (
        one_new_event(w, n, "unit_changed")
        == result
        == {
            "code": "HX-CG",
            "before": {"keywords": ["路灯", "占道", "垃圾"]},
            "after": {"keywords": ["路灯", "占道经营", "垃圾", "照明"]},
        }
    )
    assert unit(w, "HX-CG").keywords == ["路灯", "占道经营", "垃圾", "照明"]

    n = event_count(w)
    admin.change_unit(a, "SW", name="市水务集团有限公司", kind="enterprise")
    assert one_new_event(w, n, "unit_changed") == {
        "code": "SW",
        "before": {"name": "市水务集团", "kind": "utility"},
        "after": {"name": "市水务集团有限公司", "kind": "enterprise"},
    }
    admin.change_unit(a, "HX-CG", keywords=" ")
    assert unit(w, "HX-CG").keywords == []

    refused(w, lambda: admin.change_unit(a, "SW", name="市水务集团有限公司"), "没有需要保存的修改")
    refused(w, lambda: admin.change_unit(a, "SW", name="河西区人民政府"), "已有同名单位")
    refused(w, lambda: admin.change_unit(a, "SW", kind="ministry"), "未知的单位类型")
    refused(w, lambda: admin.change_unit(a, "SW", name=""), "单位名称不能为空")
    refused(w, lambda: admin.change_unit(a, "NOPE", name="x"), "单位不存在", NotFound)
    refused(w, lambda: admin.change_unit(a, "SW", keywords=[f"词{i}" for i in range(51)]), "最多50个")


def test_move_unit(world: World) -> None:
    w = world
    a = w.as_("admin1")
    zm = unit(w, "HX-CG-ZM").id
    assert zm in w.as_("cg").actor.unit_ids
    n = event_count(w)
    admin.move_unit(a, "HX-CG-ZM", "JTW")
    assert one_new_event(w, n, "unit_moved") == {
        "code": "HX-CG-ZM",
        "before": {"parent": "HX-CG"},
        "after": {"parent": "JTW"},
    }
    assert parent_code(w, "HX-CG-ZM") == "JTW"
    assert zm not in w.as_("cg").actor.unit_ids and zm in w.as_("jt").actor.unit_ids  # at next login

    admin.move_unit(a, "HX-CG-ZM", None)
    assert parent_code(w, "HX-CG-ZM") is None
    admin.move_unit(a, "HX-CG-ZM", "HX-CG")

    refused(w, lambda: admin.move_unit(a, "HX", "HX"), "移到它自己之下")
    refused(w, lambda: admin.move_unit(a, "HX", "HX-CG-ZM"), "形成循环")
    refused(w, lambda: admin.move_unit(a, "HX-CG", "HX"), "无需移动")
    refused(w, lambda: admin.move_unit(a, "SW", ""), "无需移动")
    refused(w, lambda: admin.move_unit(a, "SW", "NOPE"), "上级单位不存在", NotFound)
    refused(w, lambda: admin.move_unit(a, "NOPE", "SW"), "单位不存在", NotFound)
    admin.deactivate_unit(a, "HX-ZJ")
    refused(w, lambda: admin.move_unit(a, "SW", "HX-ZJ"), "已停用")


def test_deactivate_and_reactivate_unit(world: World) -> None:
    w = world
    a = w.as_("admin1")
    dispatched(w, "SW")
    msg = refused(w, lambda: admin.deactivate_unit(a, "SW"), "还有 1 条未办结的派单")
    assert "市水务集团" in msg
    refused(w, lambda: admin.deactivate_unit(a, "HX"), "还有 2 个启用的下级单位（HX-CG、HX-ZJ）")

    n = event_count(w)
    result = admin.deactivate_unit(a, "HX-ZJ")
    assert result == {"code": "HX-ZJ", "users": 1}  # zj stays; the screen says so
    assert one_new_event(w, n, "unit_deactivated") == {
        "code": "HX-ZJ",
        "name": "河西区住房和建设委员会",
        "users": 1,
    }
    assert not unit(w, "HX-ZJ").active
    with pytest.raises(InvalidInput, match="已停用，不能派单"):
        dispatch(w.as_("agent1"), new_ticket(w), ["HX-ZJ"])  # no orders for an inactive unit
    refused(w, lambda: admin.deactivate_unit(a, "HX-ZJ"), "已是停用状态")
    assert [u["active"] for u in admin.list_units(a) if u["code"] == "HX-ZJ"] == [False]

    admin.deactivate_unit(a, "HX-CG-ZM")
    admin.move_unit(a, "HX-CG-ZM", "HX-ZJ")  # an inactive unit may go under an inactive parent
    refused(w, lambda: admin.reactivate_unit(a, "HX-CG-ZM"), "请先启用上级单位")
    n = event_count(w)
    admin.reactivate_unit(a, "HX-ZJ")
    assert one_new_event(w, n, "unit_reactivated") == {"code": "HX-ZJ", "name": "河西区住房和建设委员会"}
    admin.reactivate_unit(a, "HX-CG-ZM")
    assert unit(w, "HX-CG-ZM").active
    refused(w, lambda: admin.reactivate_unit(a, "HX-ZJ"), "已是启用状态")


def test_list_units_counts_live_orders_and_users(world: World) -> None:
    w = world
    dispatched(w, "SW")
    dispatched(w, "SW")
    rows = {u["code"]: u for u in admin.list_units(w.as_("admin1"), with_counts=True)}
    assert rows["SW"]["live"] == 2 and rows["SW"]["users"] == 1
    assert rows["HX-CG"]["users"] == 2 and rows["HX"]["live"] == 0
    assert rows["HX-CG"]["parent"] == "HX" and rows["HX-CG"]["kind_label"] == "职能部门"
    assert "live" not in admin.list_units(w.as_("admin1"))[0]


# ---------------------------------------------------------------- policy profile


def test_set_policy_switches_the_store_and_this_session(world: World) -> None:
    w = world
    a = w.as_("admin1")
    listed = admin.list_policies(a)
    assert [p["name"] for p in listed if p["active"]] == ["tianjin"]
    assert {"tianjin", "guangzhou", "taian", "tianjin-2015"} <= {p["name"] for p in listed}
    gz = next(p for p in listed if p["name"] == "guangzhou")
    assert gz["deadlines"][0]["types_label"] == "咨询" and gz["deadlines"][0]["period"] == "2个工作日"
    assert gz["return_window"] == "2个工作日" and gz["wd_start"] == "next_day"

    n = event_count(w)
    policy = admin.set_policy(a, "guangzhou")
    assert one_new_event(w, n, "policy_changed") == {"before": "tianjin", "after": "guangzhou"}
    assert policy.name == "guangzhou" and a.policy.name == "guangzhou"
    assert active_policy_name(w.engine) == "guangzhou"
    assert open_ctx(engine=w.engine, user="agent1").policy.name == "guangzhou"  # others: at next login
    assert [p["name"] for p in admin.list_policies(a) if p["active"]] == ["guangzhou"]

    refused(w, lambda: admin.set_policy(a, "guangzhou"), "已是当前的策略配置")
    refused(w, lambda: admin.set_policy(a, "shanghai"), "未知的策略配置")
    refused(w, lambda: admin.set_policy(a, " "), "请选择")


def test_policy_summary_holds_what_policy_show_prints(world: World) -> None:
    s = admin.policy_summary("tianjin")
    for key in ("name", "title", "regulation", "available", "deadlines", "accept_limit", "return_window"):
        assert key in s
    assert s["designation_after"] == 3 and s["extension_max"] == 2 and s["accept_limit"] == "3小时"
    assert s["unit_groups"][0]["units"] == ["JTW"]


# ---------------------------------------------------------------- who may act


ACTIONS: dict[str, Callable[[Ctx], Any]] = {
    "add_user": lambda c: admin.add_user(c, "newcomer", "agent"),
    "change_user": lambda c: admin.change_user(c, "agent1", display_name="王晓燕"),
    "deactivate_user": lambda c: admin.deactivate_user(c, "agent1"),
    "reactivate_user": lambda c: admin.reactivate_user(c, "agent1"),
    "reset_password": lambda c: admin.reset_password(c, "agent1", PW),
    "unlock_account": lambda c: admin.unlock_account(c, "agent1"),
    "add_unit": lambda c: admin.add_unit(c, "RQ", "市燃气集团", "utility"),
    "change_unit": lambda c: admin.change_unit(c, "SW", keywords="停水"),
    "move_unit": lambda c: admin.move_unit(c, "SW", "HX"),
    "deactivate_unit": lambda c: admin.deactivate_unit(c, "SW"),
    "reactivate_unit": lambda c: admin.reactivate_unit(c, "SW"),
    "set_policy": lambda c: admin.set_policy(c, "guangzhou"),
    "list_policies": lambda c: admin.list_policies(c),
}


@pytest.mark.parametrize("name", ["agent1", "disp1", "sup1", "cg", "kb1"])
def test_only_admins_may_act(world: World, name: str) -> None:
    w = world
    ctx = w.as_(name)
    for action, call in ACTIONS.items():
        message = refused(w, partial(call, ctx), "无权", PermissionDenied)
        assert "系统管理员" in message, (action, message)
