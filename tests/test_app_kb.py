"""The knowledge base screen: search as you type, validity marks, editor, review queue, history, snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rich.text import Text
from sqlmodel import select
from textual.message import Message
from textual.notifications import Notify
from textual.pilot import Pilot

from hotline_tui.app import HotlineApp
from hotline_tui.clock import FixedClock, parse_datetime
from hotline_tui.models import KBEntry, KBSearchLog
from hotline_tui.screens.home import HelpScreen, HomeScreen
from hotline_tui.screens.intake import IntakeScreen
from hotline_tui.screens.kb import (
    KBEditorScreen,
    KBEntryScreen,
    KBHistoryScreen,
    KBReviewScreen,
    KBScreen,
    NoteScreen,
    catalogue_tree,
    parse_date_field,
)
from hotline_tui.services.admin import add_user
from hotline_tui.services.core import SYSTEM, Ctx
from hotline_tui.services.kb import create_entry
from tests.conftest import World
from tests.test_app_home import text_of


@pytest.fixture
def entries(sqlite_world: World) -> dict[str, str]:
    """Six entries by a centre KB editor (published at once); the clock then stays at 2025-01-24 16:00."""
    w = sqlite_world
    system = Ctx(w.engine, w.policy, SYSTEM, FixedClock(parse_datetime("2025-01-01T08:00:00")))
    add_user(system, "kbc", "kb_editor", "CENTRE", display_name="kbc")
    kbc = w.at("2025-01-10T09:00:00").as_("kbc")

    def make(**kw: Any) -> str:
        return create_entry(kbc, **kw).entry_id

    ids = {
        "duanjiao": make(
            title="社保断缴后如何补缴",
            body="职工社保断缴的，由**用人单位**到社保经办机构申报补缴。",
            keywords="社保,断缴,补缴",
            category="社会保险/参保缴费",
            unit="CENTRE",
            valid_from="2024-01-01",
        ),
        "jishu": make(
            title="2025年社保缴费基数调整",
            body="自2025年2月1日起执行新的社保缴费基数上下限。",
            keywords="社保,缴费基数",
            category="社会保险/参保缴费",
            unit="CENTRE",
            valid_from="2025-02-01",
        ),
        "gjj": make(
            title="住房公积金提取需要哪些材料",
            body="提取住房公积金需携带身份证和银行卡。",
            keywords="公积金,提取",
            category="住房公积金/提取",
            unit="CENTRE",
        ),
        "butie": make(
            title="2024年供暖补贴申领",
            body="2024年度供暖补贴申领已截止。",
            keywords="供暖,补贴",
            category="公用事业/供暖",
            unit="CENTRE",
            valid_from="2024-01-01",
            valid_to="2024-12-31",
        ),
        "gongnuan": make(
            title="供暖不热怎么投诉",
            body="室温低于18℃可向供热单位报修，24小时内未处理可拨打12345。",
            keywords="供暖,暖气不热",
            category="公用事业/供暖",
            unit="CENTRE",
        ),
        "ludeng": make(
            title="路灯不亮的报修渠道",
            body="道路照明由区城管委照明所负责，报修后48小时内修复。",
            keywords="路灯,照明",
            category="城市管理/照明",
            unit="HX-CG",
        ),
    }
    w.at("2025-01-24T16:00:00")
    return ids


async def settle(app: HotlineApp, pilot: Pilot[Any]) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def open_kb(app: HotlineApp, pilot: Pilot[Any]) -> KBScreen:
    await settle(app, pilot)
    await pilot.press("f3")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, KBScreen)
    return screen


async def search_for(app: HotlineApp, pilot: Pilot[Any], screen: KBScreen, query: str) -> list[str]:
    """Type ``query`` (as one paste) and let the debounce fire at once."""
    screen.query_input.value = query
    await pilot.pause()
    screen.search_now()
    await settle(app, pilot)
    return row_keys(screen)


def row_keys(screen: KBScreen) -> list[str]:
    return [str(k.value) for k in screen.results.rows]


def title_cell(screen: KBScreen, entry_id: str) -> str:
    cell = screen.results.get_cell(entry_id, "title")
    return cell.plain if isinstance(cell, Text) else str(cell)


def notices(messages: list[Message]) -> list[str]:
    return [m.notification.message for m in messages if isinstance(m, Notify)]


def search_logs(world: World) -> list[KBSearchLog]:
    with world.as_("agent1").read() as s:
        return list(s.exec(select(KBSearchLog)))


async def test_search_as_you_type_ranks_and_previews(sqlite_world: World, entries: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_kb(app, pilot)
        assert app.focused is screen.query_input

        screen.query_input.insert_text_at_cursor("社")
        screen.query_input.insert_text_at_cursor("保断缴")
        await pilot.pause()
        assert screen.result is None, "typing does not wait for a search: it is debounced"
        screen.search_now()  # what the debounce timer calls
        await settle(app, pilot)
        keys = row_keys(screen)
        assert keys[0] == entries["duanjiao"]
        head = text_of(screen.preview_head)
        assert "社保断缴后如何补缴" in head and "社会保险/参保缴费" in head and "CENTRE" in head
        assert "2024-01-01 至 长期" in head and "【社保断缴】" in head
        assert "用人单位" in (screen.preview_body.source or "")

        keys = await search_for(app, pilot, screen, "gjj")
        assert keys[0] == entries["gjj"]
        assert "住房公积金提取需要哪些材料" in text_of(screen.preview_head)
        assert "银行卡" in (screen.preview_body.source or "")
        assert search_logs(sqlite_world) == [], "nothing is logged per keystroke"

        screen.log_settled()  # what the settle timer calls
        await settle(app, pilot)
        logs = search_logs(sqlite_world)
        assert [(x.query, x.top_entry) for x in logs] == [("gjj", entries["gjj"])]

        screen.results.focus()
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, KBEntryScreen) and app.screen.entry_id == entries["gjj"]
        assert "身份证" in (app.screen.body.source or "")
        assert [x.opened_entry for x in search_logs(sqlite_world)] == [None, entries["gjj"]]
        await pilot.press("escape")
        await pilot.press("escape")  # clears the query
        await pilot.pause()
        assert screen.query_input.value == "" and app.focused is screen.query_input
        await pilot.press("escape")  # back to the home screen, never quits
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, IntakeScreen)  # the agent's call screen


async def test_expired_hidden_until_ctrl_l_and_upcoming_marked(
    sqlite_world: World, entries: dict[str, str]
) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_kb(app, pilot)
        keys = await search_for(app, pilot, screen, "供暖")
        assert keys == [entries["gongnuan"]]
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert row_keys(screen) == [entries["gongnuan"], entries["butie"]]
        assert title_cell(screen, entries["butie"]).startswith("【已失效】")
        assert "含已失效" in text_of(screen.status)
        await pilot.press("ctrl+l")
        await settle(app, pilot)
        assert row_keys(screen) == [entries["gongnuan"]]

        keys = await search_for(app, pilot, screen, "社保")
        assert keys == [entries["duanjiao"], entries["jishu"]]  # current before 即将生效
        assert title_cell(screen, entries["jishu"]).startswith("【即将生效】")
        assert not title_cell(screen, entries["duanjiao"]).startswith("【")


async def test_catalogue_filters_by_category(sqlite_world: World, entries: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_kb(app, pilot)
        screen.results.focus()
        await pilot.press("c")
        await settle(app, pilot)
        assert app.focused is screen.catalogue and screen.catalogue.display
        tops = {str(n.label): n for n in screen.catalogue.root.children}
        assert "社会保险（2）" in tops and "公用事业（2）" in tops  # all published entries, expired too
        node = tops["社会保险（2）"]
        screen.catalogue.select_node(node)
        await settle(app, pilot)
        assert set(row_keys(screen)) == {entries["duanjiao"], entries["jishu"]}
        assert "分类：社会保险" in text_of(screen.status)
        keys = await search_for(app, pilot, screen, "供暖")
        assert keys == [], "the category filter applies to searches too"
        await pilot.press("escape")  # clears query and category
        await settle(app, pilot)
        assert screen.category == "" and screen.query_input.value == ""


async def test_unit_edit_waits_for_review_then_agent_sees_it(
    sqlite_world: World, entries: dict[str, str]
) -> None:
    messages: list[Message] = []
    app = HotlineApp(sqlite_world.as_("kb1"))  # KB editor of HX-CG: changes go to review
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        screen = await open_kb(app, pilot)
        assert await search_for(app, pilot, screen, "路灯") == [entries["ludeng"]]
        screen.results.focus()
        await pilot.press("e")
        await settle(app, pilot)
        editor = app.screen
        assert isinstance(editor, KBEditorScreen)
        assert editor.title_input.value == "路灯不亮的报修渠道" and editor.unit_input.value == "HX-CG"
        editor.body_area.text = "道路照明由区城管委照明所负责，报修后24小时内修复。"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KBScreen)
        assert any("待审核" in n for n in notices(messages))
        screen.load_preview(entries["ludeng"])
        await settle(app, pilot)
        assert "待审核" in text_of(screen.preview_head)
        assert screen.check_action("review_queue", ()) is True
        screen.results.focus()
        await pilot.press("v")  # a department's editor may not review: a Chinese refusal
        await settle(app, pilot)
        assert any("只有市热线中心" in n for n in notices(messages))

    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_kb(app, pilot)
        await search_for(app, pilot, screen, "路灯")
        assert "48小时" in (screen.preview_body.source or ""), "agents keep the approved text"

    messages.clear()
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        screen = await open_kb(app, pilot)
        assert screen.check_action("new_entry", ()) is False  # supervisors review, they do not write
        screen.results.focus()
        await pilot.press("v")
        await settle(app, pilot)
        queue = app.screen
        assert isinstance(queue, KBReviewScreen)
        assert [i["entry"] for i in queue.items] == [entries["ludeng"]]
        diff = text_of(queue.diff)
        assert "-道路照明由区城管委照明所负责，报修后48小时内修复。" in diff
        assert "+道路照明由区城管委照明所负责，报修后24小时内修复。" in diff
        await pilot.press("a")
        await settle(app, pilot)
        assert any("已通过" in n for n in notices(messages))
        assert queue.items == []
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, KBScreen)

    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_kb(app, pilot)
        await search_for(app, pilot, screen, "路灯")
        assert "24小时" in (screen.preview_body.source or "")


async def test_reject_needs_a_note(sqlite_world: World, entries: dict[str, str]) -> None:
    from hotline_tui.services.kb import edit_entry

    edit_entry(sqlite_world.as_("kb1"), entries["ludeng"], body="改过的正文")
    messages: list[Message] = []
    app = HotlineApp(sqlite_world.as_("sup1"))
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        await open_kb(app, pilot)
        app.screen.query_one("#kb-results").focus()
        await pilot.press("v")
        await settle(app, pilot)
        queue = app.screen
        assert isinstance(queue, KBReviewScreen) and len(queue.items) == 1
        await pilot.press("x")
        note = app.screen
        assert isinstance(note, NoteScreen)
        await pilot.press("enter")
        assert isinstance(app.screen, NoteScreen) and "须填写审核意见" in text_of(note.hint)
        note.input.value = "请注明修复时限的依据"
        await pilot.press("enter")
        await settle(app, pilot)
        assert any("已退回" in n for n in notices(messages)) and queue.items == []


async def test_bad_date_shows_chinese_message_and_saves_nothing(
    sqlite_world: World, entries: dict[str, str]
) -> None:
    messages: list[Message] = []
    app = HotlineApp(sqlite_world.as_("kbc"))
    async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
        screen = await open_kb(app, pilot)
        screen.results.focus()
        await pilot.press("n")
        editor = app.screen
        assert isinstance(editor, KBEditorScreen)
        editor.title_input.value = "新政策"
        editor.body_area.text = "正文"
        editor.from_input.value = "2025-13-01"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KBEditorScreen), "nothing saved: the editor stays open"
        error = text_of(editor.error)
        assert "生效日期“2025-13-01”不是有效日期" in error and "YYYY-MM-DD" in error
        assert any("不是有效日期" in n for n in notices(messages))
        editor.from_input.value = "2025-03-01"
        editor.to_input.value = "2025-02-01"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert "早于生效日期" in text_of(editor.error)
        with sqlite_world.as_("kbc").read() as s:
            assert len(list(s.exec(select(KBEntry)))) == len(entries)

        editor.to_input.value = ""
        editor.keywords_input.value = "新政, 试点"
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, KBScreen)
        assert any(n.startswith("已发布") for n in notices(messages))
        with sqlite_world.as_("kbc").read() as s:
            new = s.exec(select(KBEntry).where(KBEntry.title == "新政策")).one()
            assert new.keywords == ["新政", "试点"] and str(new.valid_from) == "2025-03-01"


async def test_history_shows_coloured_diff(sqlite_world: World, entries: dict[str, str]) -> None:
    from hotline_tui.services.kb import edit_entry

    edit_entry(sqlite_world.as_("kbc"), entries["gjj"], body="提取住房公积金需携带身份证。")
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_kb(app, pilot)
        await search_for(app, pilot, screen, "公积金")
        screen.results.focus()
        await pilot.press("h")
        await settle(app, pilot)
        hist = app.screen
        assert isinstance(hist, KBHistoryScreen)
        body = text_of(hist.body)
        assert "第2版" in body and "-提取住房公积金需携带身份证和银行卡。" in body
        assert "+提取住房公积金需携带身份证。" in body


async def test_agent_only_reads(sqlite_world: World, entries: dict[str, str]) -> None:
    app = HotlineApp(sqlite_world.as_("agent1"))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_kb(app, pilot)
        await search_for(app, pilot, screen, "社保")
        for action in ("new_entry", "edit_entry", "review_queue"):
            assert screen.check_action(action, ()) is False
        screen.results.focus()
        await pilot.press("n", "e", "v")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, KBEntryScreen) and app.screen.check_action("edit", ()) is False
        await pilot.press("f3")  # F3 from the entry view goes back to the search screen
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        listed = {what for _, what, _ in app.screen.keys}
        assert {"含已失效", "目录", "历史", "返回", "知识库", "帮助"} <= listed


async def test_kb_editor_home_points_to_f3(sqlite_world: World) -> None:
    app = HotlineApp(sqlite_world.as_("kb1"))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        home = app.screen
        assert isinstance(home, HomeScreen) and "F3" in text_of(home.empty)


def test_pure_helpers() -> None:
    tree = catalogue_tree([("社会保险/参保缴费", 2), ("社会保险/社保卡", 1), ("", 1)])
    assert tree["n"] == 4 and tree["kids"]["社会保险"]["n"] == 3
    assert set(tree["kids"]["社会保险"]["kids"]) == {"参保缴费", "社保卡"}
    assert "（未分类）" in tree["kids"]
    assert parse_date_field(" ", "生效日期") is None
    assert str(parse_date_field("2025-03-01", "生效日期")) == "2025-03-01"
    for bad in ("2025/03/01", "2025-3-1", "明天"):
        with pytest.raises(Exception, match="YYYY-MM-DD"):
            parse_date_field(bad, "失效日期")


# ---------------------------------------------------------------- snapshots (fixed clock, fixed data)


async def _typed(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, HotlineApp)
    await settle(app, pilot)
    await pilot.press("f3")
    await settle(app, pilot)
    screen = app.screen
    assert isinstance(screen, KBScreen)
    await search_for(app, pilot, screen, "社保")
    screen.results.focus()
    await settle(app, pilot)


def test_snapshot_kb_80x24(
    snap_compare: Callable[..., bool], sqlite_world: World, entries: dict[str, str]
) -> None:
    assert snap_compare(HotlineApp(sqlite_world.as_("agent1")), terminal_size=(80, 24), run_before=_typed)


def test_snapshot_kb_160x48(
    snap_compare: Callable[..., bool], sqlite_world: World, entries: dict[str, str]
) -> None:
    assert snap_compare(HotlineApp(sqlite_world.as_("kbc")), terminal_size=(160, 48), run_before=_typed)
