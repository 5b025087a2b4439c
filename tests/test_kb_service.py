"""The knowledge-base service: review of units' changes, import/export, search log, upkeep, monthly report.

Articles: T24 20-22 (天津办法), TA 7(3), 8(4) (泰安办法), TTR 29-31 (天津交通运输委规程).
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import col, func, select

from hotline_tui import search
from hotline_tui.db import read_session, write_session
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied, RuleViolation
from hotline_tui.models import Event, KBEntry, KBSearchLog, KBVersion
from hotline_tui.services import intake
from hotline_tui.services import kb as kbs
from hotline_tui.services.admin import add_user
from hotline_tui.services.core import SYSTEM, Ctx
from tests.conftest import World

KB_EVENTS = (
    "kb_created",
    "kb_changed",
    "kb_review_approved",
    "kb_review_rejected",
    "kb_withdrawn",
    "kb_imported",
    "kb_confirmed",
)


@pytest.fixture
def kw(world: World) -> World:
    """The world plus KB editors of the centre, of the district HX and of the transport commission."""
    system = Ctx(world.engine, world.policy, SYSTEM, world.clock)
    add_user(system, "kbc", "kb_editor", "CENTRE")
    add_user(system, "kbhx", "kb_editor", "HX")
    add_user(system, "kbjt", "kb_editor", "JTW")
    return world


def events(world: World, kind: str | None = None) -> list[Event]:
    with read_session(world.engine) as s:
        stmt = select(Event).order_by(col(Event.id))
        if kind is not None:
            stmt = stmt.where(Event.kind == kind)
        return list(s.exec(stmt))


def kb_event_count(world: World) -> int:
    with read_session(world.engine) as s:
        return int(
            s.exec(select(func.count()).select_from(Event).where(col(Event.kind).in_(KB_EVENTS))).one()
        )


def entry(world: World, entry_id: str) -> KBEntry:
    with read_session(world.engine) as s:
        row = s.get(KBEntry, entry_id)
        assert row is not None
        return row


def versions(world: World, entry_id: str) -> list[KBVersion]:
    with read_session(world.engine) as s:
        return list(
            s.exec(select(KBVersion).where(KBVersion.entry_id == entry_id).order_by(col(KBVersion.version)))
        )


def hit_ids(world: World, query: str) -> list[str]:
    """What an agent's search finds on the world's clock date."""
    with read_session(world.engine) as s:
        return [h.id for h in search.search(s, query, today=world.clock.now().date())]


def make_lamp(world: World, **over: object) -> kbs.KBChange:
    """A streetlight entry owned by HX-CG, created (and published) by the district editor."""
    args: dict[str, object] = {
        "entry_id": "KB-LAMP",
        "title": "路灯不亮报修渠道",
        "body": "河西区道路路灯不亮，可拨打城管委照明所值班电话报修，一般两个工作日内修复。",
        "keywords": ["路灯", "照明"],
        "category": "城市管理/路灯照明",
        "unit": "HX-CG",
        "valid_from": "2024-01-01",
        "source": "河西区城管委公告",
    }
    args.update(over)
    return kbs.create_entry(world.as_("kbhx"), **args)  # type: ignore[arg-type]


# ---------------------------------------------------------------- create, review (TA 7(3))


def test_centre_editor_publishes_at_once(kw: World) -> None:
    # T24 20: the centre's own entries go live at once; one event, a published version 1
    change = kbs.create_entry(
        kw.as_("kbc"),
        entry_id="KB-GJJ-1",
        title="住房公积金提取条件",
        body="购买、建造、翻建、大修自住住房的，可申请提取住房公积金。",
        keywords="公积金、提取",
        category=" 住房公积金 / 提取 ",
        unit="CENTRE",
        valid_from=date(2024, 1, 1),
    )
    assert change.status == "published" and change.version == 1 and change.warnings == ()
    row = entry(kw, "KB-GJJ-1")
    assert row.status == "published" and row.keywords == ["公积金", "提取"]
    assert row.category == "住房公积金/提取"
    [v] = versions(kw, "KB-GJJ-1")
    assert (v.status, v.change) == ("published", "create")
    [ev] = events(kw, "kb_created")
    assert ev.payload == {
        "entry": "KB-GJJ-1",
        "version": 1,
        "status": "published",
        "change": "create",
        "unit": "CENTRE",
    }
    assert "KB-GJJ-1" in hit_ids(kw, "公积金")


def test_unit_entry_is_invisible_until_the_district_approves(kw: World) -> None:
    # TA 7(3): a department's new entry waits for the district centre's review
    change = kbs.create_entry(
        kw.as_("kb1"),
        title="占道经营举报方式",
        body="发现占道经营可拨打城管执法热线举报，执法队员半小时内到场。",
        keywords=["占道"],
        category="城市管理/市容",
    )
    assert change.status == "pending"
    assert change.entry_id.startswith("KB-20250124-")
    row = entry(kw, change.entry_id)
    assert row.status == "pending" and row.unit_id is not None  # defaults to the editor's unit HX-CG
    assert hit_ids(kw, "占道经营") == []
    with pytest.raises(NotFound):
        kbs.get_entry(kw.as_("agent1"), change.entry_id)
    assert kbs.get_entry(kw.as_("kbhx"), change.entry_id)["status"] == "pending"
    with write_session(kw.engine) as s, pytest.raises(RuleViolation, match="尚未审核发布"):
        intake.kb_entry_current(s, change.entry_id, kw.clock.now())
    [pending] = versions(kw, change.entry_id)
    assert pending.id is not None
    # a unit editor cannot approve, not even their own change
    with pytest.raises(PermissionDenied, match="泰安办法第七条"):
        kbs.review_change(kw.as_("kb1"), pending.id, True)
    done = kbs.review_change(kw.as_("kbhx"), pending.id, True, "核实无误")
    assert done.status == "published"
    assert entry(kw, change.entry_id).status == "published"
    assert hit_ids(kw, "占道经营") == [change.entry_id]
    assert [e.kind for e in events(kw) if e.kind.startswith("kb_")] == ["kb_created", "kb_review_approved"]


def test_unit_edit_is_invisible_to_agents_until_approved(kw: World) -> None:
    # TA 7(3): agents keep seeing the approved version while the unit's change waits for review
    make_lamp(kw)
    before = entry(kw, "KB-LAMP")
    kw.at("2025-01-25T09:00:00")
    change = kbs.edit_entry(
        kw.as_("kb1"), "KB-LAMP", body="河西区路灯不亮，可通过津心办随手拍报修，照明所24小时内修复。"
    )
    assert change.status == "pending" and change.version == 2 and change.fields == ("body",)
    after = entry(kw, "KB-LAMP")
    assert (after.body, after.version, after.updated_at) == (before.body, 1, before.updated_at)
    assert hit_ids(kw, "随手拍") == []
    assert hit_ids(kw, "值班电话") == ["KB-LAMP"]
    assert kbs.get_entry(kw.as_("agent1"), "KB-LAMP")["body"] == before.body
    queue = kbs.review_queue(kw.as_("kbhx"))
    assert [q["entry"] for q in queue] == ["KB-LAMP"]
    assert any(line.startswith("+") and "随手拍" in line for line in queue[0]["diff"])
    with pytest.raises(PermissionDenied):
        kbs.review_queue(kw.as_("kbjt"))  # a department's editor reviews nothing
    # a second edit by the unit replaces its own pending draft
    second = kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", title="路灯不亮怎么报修")
    assert second.version == 3
    vs = versions(kw, "KB-LAMP")
    assert [(v.version, v.status) for v in vs] == [(1, "published"), (2, "superseded"), (3, "pending")]
    assert vs[2].body.startswith("河西区路灯不亮，可通过津心办")  # built on the unit's own draft
    kw.at("2025-01-26T10:00:00")
    assert vs[2].id is not None
    approved = kbs.review_change(kw.as_("sup1"), vs[2].id, True)  # supervisors review too
    assert approved.status == "published"
    now = entry(kw, "KB-LAMP")
    assert (now.title, now.version) == ("路灯不亮怎么报修", 3)
    assert "随手拍" in now.body
    assert now.reviewed_at is not None
    assert [(v.version, v.status) for v in versions(kw, "KB-LAMP")] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "published"),
    ]
    assert hit_ids(kw, "随手拍") == ["KB-LAMP"]
    with pytest.raises(RuleViolation, match="已处理"):
        kbs.review_change(kw.as_("kbhx"), vs[2].id, True)


def test_rejected_change_leaves_the_entry_as_it_was(kw: World) -> None:
    # TA 7(3): the district refuses a wrong change; agents never saw it
    make_lamp(kw)
    before = entry(kw, "KB-LAMP")
    kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", body="路灯问题请自行联系物业。", valid_to="2025-12-31")
    pending = versions(kw, "KB-LAMP")[-1]
    assert pending.id is not None
    with pytest.raises(InvalidInput, match="审核意见"):
        kbs.review_change(kw.as_("kbhx"), pending.id, False)
    n = kb_event_count(kw)
    result = kbs.review_change(kw.as_("kbhx"), pending.id, False, "道路路灯由照明所负责，不属物业")
    assert result.status == "rejected"
    after = entry(kw, "KB-LAMP")
    assert (after.body, after.valid_to, after.version, after.status) == (before.body, None, 1, "published")
    v = versions(kw, "KB-LAMP")[-1]
    assert (v.status, v.review_note) == ("rejected", "道路路灯由照明所负责，不属物业")
    assert hit_ids(kw, "物业") == []
    assert kb_event_count(kw) == n + 1
    assert events(kw, "kb_review_rejected")[0].payload["entry"] == "KB-LAMP"


def test_rejected_new_entry_stays_invisible(kw: World) -> None:
    change = kbs.create_entry(kw.as_("kb1"), entry_id="KB-NEW", title="新条目", body="内容待核实的条目。")
    [v] = versions(kw, "KB-NEW")
    assert v.id is not None
    kbs.review_change(kw.as_("kbhx"), v.id, False, "内容不完整")
    assert entry(kw, change.entry_id).status == "rejected"
    assert hit_ids(kw, "待核实") == []


def test_scopes_of_editors_and_reviewers(kw: World) -> None:
    # TA 8(4): a unit maintains its own entries; TA 7(3): a district reviews its own area only
    kbs.create_entry(
        kw.as_("kbc"), entry_id="KB-BUS", title="公交卡充值网点", body="公交卡可在地铁站充值。", unit="JTW-YS"
    )
    with pytest.raises(PermissionDenied, match="不属于您所在单位"):
        kbs.edit_entry(kw.as_("kb1"), "KB-BUS", body="改一下")
    with pytest.raises(PermissionDenied, match="不属于您所在单位"):
        kbs.create_entry(kw.as_("kb1"), title="别人的条目", body="内容内容。", unit="SW")
    with pytest.raises(PermissionDenied, match="知识库维护"):
        kbs.create_entry(kw.as_("agent1"), title="坐席不能写", body="内容内容。")
    # the transport commission's editor (a department) may change its sub-unit's entry, with review
    change = kbs.edit_entry(kw.as_("kbjt"), "KB-BUS", body="公交卡可在地铁站及便利店充值。")
    assert change.status == "pending"
    pending = versions(kw, "KB-BUS")[-1]
    assert pending.id is not None
    with pytest.raises(PermissionDenied, match="不属于您所在单位"):
        kbs.review_change(kw.as_("kbhx"), pending.id, True)  # not in Hexi's area
    assert kbs.review_change(kw.as_("kbc"), pending.id, True).status == "published"  # the centre reviews all
    # a unit editor cannot move an entry out of their subtree
    make_lamp(kw)
    with pytest.raises(PermissionDenied, match="划归"):
        kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", unit="SW")
    with pytest.raises(NotFound, match="不存在"):
        kbs.edit_entry(kw.as_("kb1"), "KB-NONE", body="x")


def test_approval_refused_when_the_entry_moved_on(kw: World) -> None:
    # a unit's draft built on version 1 must not overwrite the district's version 3
    make_lamp(kw)
    kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", body="单位提交的修改内容。")
    pending = versions(kw, "KB-LAMP")[-1]
    kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", title="路灯报修（区中心修订）")
    assert entry(kw, "KB-LAMP").version == 3
    assert pending.id is not None
    with pytest.raises(RuleViolation, match="重新提交"):
        kbs.review_change(kw.as_("kbhx"), pending.id, True)
    assert entry(kw, "KB-LAMP").title == "路灯报修（区中心修订）"
    with pytest.raises(RuleViolation, match="已被他人更新"):
        kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", body="新内容内容。", expected_version=2)


def test_edit_without_change_writes_nothing(kw: World) -> None:
    make_lamp(kw)
    n = kb_event_count(kw)
    result = kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", title="路灯不亮报修渠道", keywords="路灯 照明")
    assert result.status == "unchanged"
    assert kb_event_count(kw) == n and len(versions(kw, "KB-LAMP")) == 1


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("over", "message"),
    [
        (
            {"valid_from": "2025-03-01", "valid_to": "2025-02-01"},
            "失效日期 2025-02-01 早于生效日期 2025-03-01",
        ),
        ({"title": "   "}, "标题不能为空"),
        ({"body": ""}, "正文不能为空"),
        ({"unit": "NOPE"}, "未知的单位代码：NOPE；可用的单位代码：CENTRE、HX、HX-CG"),
        ({"title": "长" * 300}, "标题过长：300字，最多255字"),
        ({"body": "正" * 20001}, "正文过长"),
        ({"title": "路灯\x07报修"}, "标题含有不可见的控制字符 U+0007"),
        ({"body": "第一行\n第二行\x1b[31m"}, "正文含有不可见的控制字符 U+001B"),
        ({"title": "两行\n标题"}, "标题不能换行"),
        ({"valid_from": "2025/03/01"}, "生效日期格式不正确"),
        ({"keywords": ["a"] * 0 + [f"k{i}" for i in range(31)]}, "关键词过多"),
        ({"entry_id": "KB 1"}, "条目编号不能包含空格"),
    ],
)
def test_validation_messages_change_nothing(kw: World, over: dict[str, object], message: str) -> None:
    n = kb_event_count(kw)
    with pytest.raises(InvalidInput) as err:
        make_lamp(kw, **over)
    assert message in err.value.message
    assert kb_event_count(kw) == n
    with read_session(kw.engine) as s:
        assert s.exec(select(func.count()).select_from(KBEntry)).one() == 0


def test_body_keeps_markdown_lines_and_tabs(kw: World) -> None:
    body = "## 办理材料\r\n\r\n1. 身份证\r\n2. 申请表\t（原件）\n\n**注意**：材料须齐全。"
    make_lamp(kw, body=body)
    assert (
        entry(kw, "KB-LAMP").body == "## 办理材料\n\n1. 身份证\n2. 申请表\t（原件）\n\n**注意**：材料须齐全。"
    )


# ---------------------------------------------------------------- TTR 29: interpretations a day ahead


def test_future_policy_is_allowed_and_late_entry_is_warned(kw: World) -> None:
    # TTR 29 (T24 21): 拟发布的政策及解读应于距正式发布前至少一日更新; the clock is 2025-01-24 16:00
    early = make_lamp(kw, entry_id="KB-P1", valid_from="2025-01-25")
    assert early.warnings == ()
    future = make_lamp(kw, entry_id="KB-P2", valid_from="2025-03-01")
    assert future.status == "published" and future.warnings == ()
    with write_session(kw.engine) as s, pytest.raises(RuleViolation, match="才生效"):
        intake.kb_entry_current(s, "KB-P2", kw.clock.now())  # 即将生效: not a current answer yet
    with read_session(kw.engine) as s:
        hits = {h.id: h.validity for h in search.search(s, "路灯", today=date(2025, 1, 24))}
    assert hits["KB-P2"] == "upcoming"  # shown to agents as 即将生效
    late = make_lamp(kw, entry_id="KB-P3", valid_from="2025-01-24")
    assert late.status == "published"
    [warning] = late.warnings
    assert "至少1日" in warning and "天津交通运输委规程第二十九条" in warning
    # an old policy entered today is not a "new" policy: no warning
    assert make_lamp(kw, entry_id="KB-P4", valid_from="2023-06-01").warnings == ()
    # moving an entry's valid_from to today is warned, editing its text is not
    assert kbs.edit_entry(kw.as_("kbhx"), "KB-P1", body="新的解读内容。").warnings == ()
    assert kbs.edit_entry(kw.as_("kbhx"), "KB-P1", valid_from="2025-01-24").warnings != ()


def test_late_approval_of_a_unit_interpretation_is_warned(kw: World) -> None:
    # TTR 29: the unit submitted in time, but it only reaches agents when approved
    kw.at("2025-02-10T10:00:00")
    change = kbs.create_entry(
        kw.as_("kb1"), entry_id="KB-NEWPOL", title="新政解读", body="解读正文内容。", valid_from="2025-02-14"
    )
    assert change.warnings == ()
    kw.at("2025-02-14T09:00:00")
    [v] = versions(kw, "KB-NEWPOL")
    assert v.id is not None
    approved = kbs.review_change(kw.as_("kbhx"), v.id, True)
    assert approved.status == "published" and len(approved.warnings) == 1


# ---------------------------------------------------------------- withdraw, confirm, history


def test_withdraw_drops_the_entry_from_search(kw: World) -> None:
    make_lamp(kw)
    # a unit's withdrawal is reviewed like any change (TA 7(3))
    pending = kbs.withdraw_entry(kw.as_("kb1"), "KB-LAMP")
    assert pending.status == "pending" and entry(kw, "KB-LAMP").status == "published"
    assert hit_ids(kw, "路灯") == ["KB-LAMP"]
    v = versions(kw, "KB-LAMP")[-1]
    assert v.id is not None
    kbs.review_change(kw.as_("kbhx"), v.id, False, "政策仍有效")
    n = kb_event_count(kw)
    done = kbs.withdraw_entry(kw.as_("kbhx"), "KB-LAMP")
    assert done.status == "withdrawn" and kb_event_count(kw) == n + 1
    assert entry(kw, "KB-LAMP").status == "withdrawn"
    assert hit_ids(kw, "路灯") == []
    with write_session(kw.engine) as s, pytest.raises(RuleViolation):
        intake.kb_entry_current(s, "KB-LAMP", kw.clock.now())
    with pytest.raises(RuleViolation, match="未发布"):
        kbs.withdraw_entry(kw.as_("kbhx"), "KB-LAMP")
    assert [e.payload["status"] for e in events(kw, "kb_withdrawn")] == ["pending", "published"]
    # editing a withdrawn entry brings it back
    assert kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", body="恢复后的路灯报修说明。").status == "published"
    assert hit_ids(kw, "路灯") == ["KB-LAMP"]


def test_history_shows_who_when_status_and_a_diff(kw: World) -> None:
    make_lamp(kw)
    kw.at("2025-01-27T10:00:00")
    kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", body="河西区道路路灯不亮，可拨打照明所电话报修，24小时内修复。")
    hist = kbs.history(kw.as_("kbhx"), "KB-LAMP")
    assert [(h["version"], h["status"], h["change"]) for h in hist] == [
        (1, "published", "create"),
        (2, "pending", "edit"),
    ]
    assert hist[0]["changed_by"] == "kbhx" and hist[1]["changed_by"] == "kb1"
    assert hist[1]["changed_at"] == "2025-01-27T10:00:00+08:00"
    assert "+河西区道路路灯不亮，可拨打照明所电话报修，24小时内修复。" in hist[1]["diff"]
    assert any(line.startswith("-河西区道路路灯不亮，可拨打城管委") for line in hist[1]["diff"])
    assert "+标题：路灯不亮报修渠道" in hist[0]["diff"]
    # agents see only versions that went live
    assert [h["version"] for h in kbs.history(kw.as_("agent1"), "KB-LAMP")] == [1]


def test_entries_from_before_versions_get_a_baseline(kw: World) -> None:
    # demo rows were written without versions: the first edit keeps their state as version 1
    with write_session(kw.engine) as s:
        s.add(KBEntry(id="KB-OLD", title="旧条目", body="旧内容。", updated_at=kw.clock.now()))
    assert [h["version"] for h in kbs.history(kw.as_("kbc"), "KB-OLD")] == [1]
    kbs.edit_entry(kw.as_("kbc"), "KB-OLD", body="新内容。")
    assert [(v.version, v.status, v.body) for v in versions(kw, "KB-OLD")] == [
        (1, "superseded", "旧内容。"),
        (2, "published", "新内容。"),
    ]


def test_confirm_resets_staleness(kw: World) -> None:
    # T24 20 para. 2: the unit confirms its entry is still true; one event, no new version
    make_lamp(kw)
    kw.at("2025-08-01T09:00:00")
    assert kbs.upkeep(kw.as_("kbc"), date(2025, 8, 1))["totals"]["stale"] == 1
    kbs.confirm_entry(kw.as_("kb1"), "KB-LAMP")
    assert kbs.upkeep(kw.as_("kbc"), date(2025, 8, 1))["totals"]["stale"] == 0
    assert len(versions(kw, "KB-LAMP")) == 1
    assert events(kw, "kb_confirmed")[0].payload == {"entry": "KB-LAMP", "version": 1, "unit": "HX-CG"}


# ---------------------------------------------------------------- import / export (DESIGN.md)


def line(**over: object) -> str:
    item: dict[str, object] = {
        "id": "KB-SW-001",
        "title": "停水通知查询",
        "body": "计划停水信息在水务集团网站和微信公众号提前24小时公告。",
        "keywords": ["停水", "水务"],
        "unit": "SW",
        "category": "水电气热/供水",
        "valid_from": "2024-01-01",
        "valid_to": None,
    }
    item.update(over)
    return json.dumps(item, ensure_ascii=False)


def test_import_creates_and_publishes(kw: World) -> None:
    text = "\n".join(
        [
            line(),
            "",
            line(id="KB-SW-002", title="水费缴纳方式", body="水费可通过银行代扣或网上缴纳。", keywords=[]),
            line(
                id="KB-JT-001",
                unit="JTW-YS",
                title="出租车投诉",
                body="出租车拒载可投诉。",
                keywords=["出租车"],
                category="交通出行",
            ),
        ]
    )
    result = kbs.import_jsonl(kw.as_("kbc"), text, "/home/someone/kb.jsonl")
    assert result == {"created": 3, "updated": 0, "unchanged": 0, "total": 3}
    assert entry(kw, "KB-SW-001").status == "published"
    assert hit_ids(kw, "停水") == ["KB-SW-001"]
    [v] = versions(kw, "KB-JT-001")
    assert (v.change, v.status) == ("import", "published")
    [ev] = events(kw, "kb_imported")
    assert ev.payload == {"origin": "kb.jsonl", "created": 3, "updated": 0, "unchanged": 0}  # no home path
    assert kbs.import_jsonl(kw.as_("admin1"), line(id="KB-X"), "x.jsonl")["created"] == 1


def test_import_with_unknown_unit_imports_nothing_and_lists_codes(kw: World) -> None:
    text = "\n".join([line(), line(id="KB-2", unit="NO-SUCH"), line(id="KB-3", unit="NO-SUCH")])
    with pytest.raises(InvalidInput) as err:
        kbs.import_jsonl(kw.as_("kbc"), text, "kb.jsonl")
    msg = err.value.message
    assert "未导入任何条目" in msg
    assert "未知的单位代码：NO-SUCH（第2、3行）" in msg
    assert "可用的单位代码：CENTRE、HX、HX-CG、HX-CG-ZM、HX-ZJ、JTW、JTW-YS、SW" in msg
    with read_session(kw.engine) as s:
        assert s.exec(select(func.count()).select_from(KBEntry)).one() == 0
    assert kb_event_count(kw) == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "KB-9", "title": ', "kb.jsonl 第3行：不是合法的 JSON"),
        ('["not", "an", "object"]', "kb.jsonl 第3行：应为一个 JSON 对象"),
        (line(id="KB-9", valid_from="2025-13-01"), "kb.jsonl 第3行：生效日期格式不正确"),
        (line(id="KB-9", title=""), "kb.jsonl 第3行：标题不能为空"),
        (line(id="KB-9", keywords=[1, 2]), "kb.jsonl 第3行：关键词必须是文本列表"),
        (line(valid_from="2025-05-01", valid_to="2025-04-01"), "kb.jsonl 第3行：失效日期"),
        (line(), "kb.jsonl 第3行：条目编号 KB-SW-001 与第1行重复"),
        (line(id="", title="x"), "kb.jsonl 第3行：条目编号不能为空"),
    ],
)
def test_import_malformed_line_names_its_number(kw: World, bad: str, message: str) -> None:
    text = line() + "\n" + line(id="KB-SW-002") + "\n" + bad + "\n"
    with pytest.raises(InvalidInput) as err:
        kbs.import_jsonl(kw.as_("kbc"), text, "kb.jsonl")
    assert message in err.value.message
    with read_session(kw.engine) as s:
        assert s.exec(select(func.count()).select_from(KBEntry)).one() == 0


def test_import_permissions(kw: World) -> None:
    # imports are the centre's own data: admins and the centre's KB editors only
    for name in ("kb1", "kbhx", "agent1"):
        with pytest.raises(PermissionDenied):
            kbs.import_jsonl(kw.as_(name), line(), "kb.jsonl")
    with pytest.raises(InvalidInput, match="没有任何条目"):
        kbs.import_jsonl(kw.as_("kbc"), "\n\n", "kb.jsonl")


def test_reimport_updates_with_history_and_identical_is_a_no_op(kw: World) -> None:
    kbs.import_jsonl(kw.as_("kbc"), line() + "\n" + line(id="KB-SW-002"), "kb.jsonl")
    kw.at("2025-02-03T09:00:00")
    changed = line(
        body="计划停水信息提前24小时在水务集团网站、微信公众号和小区公告栏公告。", valid_to="2025-12-31"
    )
    result = kbs.import_jsonl(kw.as_("kbc"), changed + "\n" + line(id="KB-SW-002"), "kb.jsonl")
    assert result == {"created": 0, "updated": 1, "unchanged": 1, "total": 2}
    vs = versions(kw, "KB-SW-001")
    assert [(v.version, v.status, v.change) for v in vs] == [
        (1, "superseded", "import"),
        (2, "published", "import"),
    ]
    now = entry(kw, "KB-SW-001")
    assert now.version == 2 and now.valid_to == date(2025, 12, 31) and "小区公告栏" in now.body
    assert hit_ids(kw, "公告栏") == ["KB-SW-001"]
    hist = kbs.history(kw.as_("kbc"), "KB-SW-001")
    assert any("小区公告栏" in d for d in hist[1]["diff"] if d.startswith("+"))
    n_events, n_versions = kb_event_count(kw), len(vs)
    again = kbs.import_jsonl(kw.as_("kbc"), changed + "\n" + line(id="KB-SW-002"), "kb.jsonl")
    assert again == {"created": 0, "updated": 0, "unchanged": 2, "total": 2}
    assert kb_event_count(kw) == n_events  # identical re-import: no event
    assert len(versions(kw, "KB-SW-001")) == n_versions


def test_export_round_trips(kw: World) -> None:
    text = "\n".join(
        [
            line(),
            line(
                id="KB-A", title="过期政策", body="2024年的临时政策。", valid_to="2024-12-31", source="某文件"
            ),
            line(id="KB-B", unit=None, category="综合", keywords=["综合"], body="多行\n正文\t内容"),
        ]
    )
    kbs.import_jsonl(kw.as_("kbc"), text, "kb.jsonl")
    make_lamp(kw)
    out = kbs.export_jsonl(kw.as_("kbc"))
    rows = [json.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == ["KB-A", "KB-B", "KB-LAMP", "KB-SW-001"]
    assert rows[0]["source"] == "某文件" and rows[1]["unit"] is None and rows[1]["body"] == "多行\n正文\t内容"
    assert set(rows[3]) == {"id", "title", "body", "keywords", "unit", "category", "valid_from", "valid_to"}
    assert kbs.import_jsonl(kw.as_("kbc"), out, "export.jsonl")["unchanged"] == 4
    current = [
        json.loads(x)["id"] for x in kbs.export_jsonl(kw.as_("kbc"), include_expired=False).splitlines()
    ]
    assert "KB-A" not in current


# ---------------------------------------------------------------- search log, gaps, answers on the spot


def test_search_gaps_are_counted_most_frequent_first(kw: World) -> None:
    # T24 20: widen what can be answered on the spot — the searches that found nothing
    agent = kw.as_("agent1")
    kw.at("2025-01-10T09:00:00")
    kbs.log_search(agent, "电动车 充电桩", 0, None)
    kbs.log_search(agent, "电动车  充电桩", 0, None)
    kbs.log_search(kw.as_("disp1"), "电动车 充电桩", 0, None)
    kbs.log_search(agent, "GJJ 提取", 0, None)
    kbs.log_search(agent, "gjj 提取", 0, None)
    kbs.log_search(agent, "停水", 3, "KB-SW-001")
    kbs.log_search(agent, "   ", 0, None)  # empty: not logged
    kbs.log_search(agent, "13812345678 的工单", 0, None)
    kw.at("2025-02-10T09:00:00")
    kbs.log_search(agent, "冬季供暖", 0, None)  # outside the range
    gaps = kbs.search_gaps(kw.as_("kbc"), date(2025, 1, 1), date(2025, 1, 31))
    assert [(g["query"], g["count"]) for g in gaps] == [
        ("电动车 充电桩", 3),
        ("GJJ 提取", 2),
        ("138**** 的工单", 1),
    ]
    assert gaps[0]["agents"] == 2
    with read_session(kw.engine) as s:
        logged = list(s.exec(select(KBSearchLog.query)))
    assert "13812345678 的工单" not in logged  # no caller phone numbers in the log
    assert kb_event_count(kw) == 0 and events(kw, "kb_search") == []  # not a business change
    with pytest.raises(PermissionDenied):
        kbs.search_gaps(kw.as_("agent1"), date(2025, 1, 1), date(2025, 1, 31))
    with pytest.raises(InvalidInput, match="早于"):
        kbs.search_gaps(kw.as_("kbc"), date(2025, 2, 1), date(2025, 1, 1))


def test_answered_by_entry_counts_tickets_answered_on_the_spot(kw: World) -> None:
    kbs.import_jsonl(kw.as_("kbc"), line() + "\n" + line(id="KB-SW-002", title="水费"), "kb.jsonl")
    agent = kw.as_("agent1")
    cited = ["KB-SW-001", "KB-SW-001", "KB-SW-002"]
    for entry_id in cited:
        t = intake.create_ticket(
            agent, intake.IntakeForm(type="consult", channel="phone", text="咨询明天是否停水")
        )
        intake.answer_on_spot(agent, t.no, entry_id)
    intake.create_ticket(agent, intake.IntakeForm(type="consult", channel="phone", text="咨询水费怎么交"))
    rows = kbs.answered_by_entry(kw.as_("sup1"), date(2025, 1, 24), date(2025, 1, 24))
    assert rows == [
        {"entry": "KB-SW-001", "title": "停水通知查询", "unit": "SW", "count": 2},
        {"entry": "KB-SW-002", "title": "水费", "unit": "SW", "count": 1},
    ]
    assert kbs.answered_by_entry(kw.as_("sup1"), date(2025, 1, 25), date(2025, 1, 31)) == []


# ---------------------------------------------------------------- upkeep (T24 20, 22(5); TTR 29)


def test_upkeep_flags_expired_and_stale_entries_to_their_owner(kw: World) -> None:
    kw.at("2025-01-02T09:00:00")
    make_lamp(kw, entry_id="KB-EXP", valid_to="2025-01-31")
    kbs.import_jsonl(kw.as_("kbc"), line() + "\n" + line(id="KB-SW-OLD", valid_to="2025-06-30"), "kb.jsonl")
    kw.at("2025-06-01T09:00:00")
    kbs.import_jsonl(kw.as_("kbc"), line(body="停水信息更新后的说明。"), "kb.jsonl")
    report = kbs.upkeep(kw.as_("kbc"), date(2025, 7, 5))
    # T24 22(5): KB not updated in time is a supervision matter; counts per owner unit
    by_unit = {u["unit"]: u for u in report["units"]}
    assert set(by_unit) == {"HX-CG", "SW"}
    assert [e["id"] for e in by_unit["HX-CG"]["expired"]] == ["KB-EXP"]
    assert by_unit["HX-CG"]["expired"][0]["valid_to"] == "2025-01-31"
    assert [e["id"] for e in by_unit["SW"]["expired"]] == ["KB-SW-OLD"]
    assert by_unit["SW"]["stale"] == []  # KB-SW-001 changed in June
    assert report["stale_days"] == 180 and report["totals"] == {"expired": 2, "stale": 0, "units": 2}
    later = kbs.upkeep(kw.as_("kbc"), date(2025, 12, 31))
    assert [e["id"] for u in later["units"] for e in u["stale"]] == ["KB-SW-001"]  # 213 days untouched
    short = kbs.upkeep(kw.as_("kbc"), date(2025, 7, 5), stale_days=30)
    assert short["totals"]["stale"] == 1
    # a unit editor sees their own subtree only
    own = kbs.upkeep(kw.as_("kb1"), date(2025, 7, 5))
    assert [u["unit"] for u in own["units"]] == ["HX-CG"]
    with pytest.raises(PermissionDenied):
        kbs.upkeep(kw.as_("agent1"), date(2025, 7, 5))


def test_stale_days_come_from_the_profile(kw: World) -> None:
    make_lamp(kw)
    kw.policy.extra["supervision"]["kb_stale_days"] = 10
    try:
        assert kbs.upkeep(kw.as_("kbc"), date(2025, 2, 3))["stale_days"] == 10
        assert kbs.upkeep(kw.as_("kbc"), date(2025, 2, 3))["totals"]["stale"] == 1
    finally:
        kw.policy.extra["supervision"]["kb_stale_days"] = 180


# ---------------------------------------------------------------- TTR 31: the monthly report and its window


def test_february_2025_window_for_the_january_report(kw: World) -> None:
    # TTR 31(1): 2月1日至5日填报, 考核月度选择“1月”. Spring Festival 2025 ran 01-28..02-04; 02-05 is a working day.
    cal = kw.as_("kbc").calendar
    assert cal.is_workday(date(2025, 2, 5))
    assert not cal.is_workday(date(2025, 2, 4))
    win = kbs.filing_window(cal, "2025-01")
    assert (win.opens, win.closes, win.deadline, win.early) == (
        date(2025, 2, 1),
        date(2025, 2, 5),
        date(2025, 2, 5),
        False,
    )
    assert "2025年1月知识库信息月报表应于2月1日至2月5日填报" in win.note


def test_fifth_on_a_weekend_is_not_postponed(kw: World) -> None:
    # TTR 31(4): 填报时限最后一日若为法定节假日，不做顺延，应提前填报
    cal = kw.as_("kbc").calendar
    assert date(2025, 7, 5).weekday() == 5 and not cal.is_workday(date(2025, 7, 5))  # Saturday
    win = kbs.filing_window(cal, "2025-06")
    assert win.deadline == date(2025, 7, 4) and win.early
    assert "不顺延" in win.note and "7月4日" in win.note
    # April 2025: the 5th is a Saturday and the 4th is Qingming: file by Thursday the 3rd
    assert kbs.filing_window(cal, "2025-03").deadline == date(2025, 4, 3)
    # 2026-04-05 is a Sunday (Qingming weekend): file by Friday 04-03
    assert kbs.filing_window(cal, "2026-03").deadline == date(2026, 4, 3)
    # October 2025: 10-01..10-08 National Day, the whole window is a holiday: file before it
    oct_ = kbs.filing_window(cal, "2025-09")
    assert oct_.deadline == date(2025, 9, 30) and "均为非工作日" in oct_.note
    # a profile that allowed postponing would move forward instead
    assert kbs.filing_window(cal, "2025-06", postpone=True).deadline == date(2025, 7, 7)
    with pytest.raises(InvalidInput, match="月份格式不正确"):
        kbs.filing_window(cal, "2025-13")


def test_monthly_report_counts_per_unit_with_a_row_for_quiet_units(kw: World) -> None:
    # TTR 31: per unit: added, changed, flagged; 无更新亦应确认填报 (31(3))
    kw.at("2024-12-20T09:00:00")
    kbs.create_entry(
        kw.as_("kbc"), entry_id="KB-JT", title="出租车投诉", body="出租车拒载可投诉。", unit="JTW-YS"
    )
    kbs.import_jsonl(kw.as_("kbc"), line(id="KB-SW-OLD", valid_to="2025-01-15"), "kb.jsonl")
    kw.at("2025-01-10T09:00:00")
    make_lamp(kw)  # HX-CG: added
    kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", title="路灯报修")  # HX-CG: changed
    kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", body="待审核的修改内容。")  # HX-CG: pending
    kbs.import_jsonl(kw.as_("kbc"), line(), "kb.jsonl")  # SW: added
    kw.at("2025-02-02T09:00:00")
    kbs.edit_entry(kw.as_("kbc"), "KB-JT", body="February change, not January.")
    report = kbs.monthly_report(kw.as_("kbc"), "2025-01")
    assert report["month"] == "2025-01" and report["window"]["deadline"] == "2025-02-05"
    rows = {r["unit"]: r for r in report["rows"]}
    assert set(rows) == {"HX-CG", "JTW-YS", "SW"}
    assert (rows["HX-CG"]["added"], rows["HX-CG"]["changed"], rows["HX-CG"]["pending"]) == (1, 1, 1)
    assert (rows["SW"]["added"], rows["SW"]["expired"], rows["SW"]["flagged"]) == (1, 1, 1)
    assert rows["SW"]["entries"] == 2
    quiet = rows["JTW-YS"]
    assert (quiet["added"], quiet["changed"], quiet["no_change"]) == (0, 0, True)
    assert quiet["note"] == "本月无更新，亦应确认填报"
    assert report["totals"]["added"] == 2
    md = kbs.report_markdown(report)
    assert "| JTW-YS | 市道路运输局 | 1 | 0 | 0 |" in md and "截止：**2025-02-05**" in md
    csv_text = kbs.report_csv(report)
    assert csv_text.splitlines()[0].startswith("单位代码,单位,条目数,新增,修改")
    # the unit editor's report shows its own subtree
    assert [r["unit"] for r in kbs.monthly_report(kw.as_("kb1"), "2025-01")["rows"]] == ["HX-CG"]
    # February: the centre's change to JTW-YS; the 5th of March 2025 is a working day
    feb = {r["unit"]: r for r in kbs.monthly_report(kw.as_("sup1"), "2025-02")["rows"]}
    assert feb["JTW-YS"]["changed"] == 1 and feb["HX-CG"]["no_change"]


def test_report_rejects_bad_month_and_roles(kw: World) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        kbs.monthly_report(kw.as_("kbc"), "2025/01")
    with pytest.raises(PermissionDenied):
        kbs.monthly_report(kw.as_("agent1"), "2025-01")


def test_every_change_writes_exactly_one_event_without_personal_data(kw: World) -> None:
    steps = [
        lambda: make_lamp(kw),
        lambda: kbs.edit_entry(kw.as_("kbhx"), "KB-LAMP", body="修改一次。"),
        lambda: kbs.edit_entry(kw.as_("kb1"), "KB-LAMP", body="单位修改。"),
        lambda: kbs.withdraw_entry(kw.as_("kbhx"), "KB-LAMP"),
        lambda: kbs.import_jsonl(kw.as_("kbc"), line(), "kb.jsonl"),
        lambda: kbs.confirm_entry(kw.as_("kbc"), "KB-SW-001"),
    ]
    for step in steps:
        n = len(events(kw))
        step()
        assert len(events(kw)) == n + 1
    for ev in events(kw):
        if ev.kind.startswith("kb_"):
            text = json.dumps(ev.payload, ensure_ascii=False)
            assert "kb1" not in text and "kbhx" not in text and "body" not in ev.payload
