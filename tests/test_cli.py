"""The ``hotline`` command: JSON shapes, exit codes, Chinese messages, and refusals that change nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hotline_tui.cli import main
from tests.conftest import UNITS_TOML

GOOD_REPLY = (
    "1月27日9时，区城管委工作人员王明（电话022-23456789）与诉求人电话联系，并到现场核查，"
    "经核实该路段路灯线路老化，已于1月27日更换线路并恢复照明，诉求人表示满意。"
)


@pytest.fixture
def db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    units = tmp_path / "units.toml"
    units.write_text(UNITS_TOML, encoding="utf-8")
    assert main(["--db", url, "init"]) == 0
    assert main(["--db", url, "unit", "import", str(units)]) == 0
    for name, role, unit in (
        ("a1", "agent", None),
        ("d1", "dispatcher", None),
        ("l1", "liaison", "HX-CG"),
        ("c1", "callback", None),
    ):
        args = ["--db", url, "user", "add", name, "--role", role] + (["--unit", unit] if unit else [])
        assert main(args) == 0
    capsys.readouterr()
    return url


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_due_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    code, out, _ = run(
        capsys, "--db", url, "rules", "due", "--type", "咨询", "--start", "2025-01-24T16:00:00", "--json"
    )
    data = json.loads(out)
    assert code == 0
    assert data["due_at"] == "2025-02-05T16:00:00+08:00"
    assert "第十一条" in data["rule"] and "春节" in data["explanation"]
    code, out, _ = run(
        capsys,
        "--db",
        url,
        "--policy",
        "guangzhou",
        "rules",
        "due",
        "--type",
        "consult",
        "--start",
        "2025-01-24T16:00:00",
        "--json",
    )
    assert json.loads(out)["due_at"] == "2025-01-27T23:59:59+08:00"  # GZ 17


def test_rules_due_into_2027_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    code, out, err = run(
        capsys, "--db", url, "rules", "due", "--type", "complaint", "--start", "2026-12-28T10:00:00", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["due_at"].startswith("2027-01-")
    assert data["warnings"] and "2027" in err


def test_calendar_add_moves_deadlines(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    notice = tmp_path / "2027.toml"
    notice.write_text('year = 2027\nholidays = ["2027-01-04"]\n', encoding="utf-8")
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "rules",
        "due",
        "--type",
        "complaint",
        "--start",
        "2026-12-31T10:00:00",
        "--urgency",
        "紧急",
        "--json",
    )
    assert (
        json.loads(out)["due_at"] == "2027-01-04T10:00:00+08:00"
    )  # fallback: 01-01 fixed holiday, 01-04 Mon
    assert run(capsys, "--db", db, "calendar", "add", "2027", str(notice))[0] == 0
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "rules",
        "due",
        "--type",
        "complaint",
        "--start",
        "2026-12-31T10:00:00",
        "--urgency",
        "紧急",
        "--json",
    )
    data = json.loads(out)
    assert data["due_at"] == "2027-01-05T10:00:00+08:00" and data["warnings"] == []
    code, out, _ = run(capsys, "--db", db, "calendar", "show", "2027", "--json")
    assert json.loads(out)["covered"] is True
    code, _, err = run(capsys, "--db", db, "calendar", "add", "2028", str(notice))
    assert code == 2 and "与指定年份 2028 不一致" in err


def test_check_reply_exit_codes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    reply = tmp_path / "reply.txt"
    reply.write_text(GOOD_REPLY, encoding="utf-8")
    code, out, _ = run(capsys, "--db", url, "rules", "check-reply", str(reply), "--json")
    assert code == 0 and json.loads(out) == {"ok": True, "findings": []}
    reply.write_text("已联系", encoding="utf-8")
    code, out, _ = run(capsys, "--db", url, "rules", "check-reply", str(reply), "--json")
    data = json.loads(out)
    assert code == 1 and not data["ok"] and all({"rule", "message"} <= set(f) for f in data["findings"])


def test_triage_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    code, out, _ = run(
        capsys, "--db", url, "rules", "triage", "我家楼下有人持刀打架，已经有人受伤了", "--json"
    )
    data = json.loads(out)
    assert code == 0 and data["class"] == "emergency" and data["route"] == "110"
    assert set(data) >= {"class", "route", "reason", "rule"}


def test_ticket_lifecycle_and_show_json(capsys: pytest.CaptureFixture[str], db: str) -> None:
    base = ["--db", db]
    code, out, _ = run(
        capsys,
        *base,
        "--user",
        "a1",
        "--now",
        "2025-01-24T16:00:00",
        "ticket",
        "new",
        "--type",
        "投诉",
        "--channel",
        "12345电话",
        "--text",
        "友谊路路灯不亮一周了",
        "--phone",
        "13812345678",
        "--label",
        "【互联网+督查】",
        "--json",
    )
    assert code == 0
    no = json.loads(out)["no"]
    assert no == "TJ20250124-000001"
    assert (
        run(
            capsys,
            *base,
            "--user",
            "a1",
            "--now",
            "2025-01-24T16:00:00",
            "ticket",
            "dispatch",
            no,
            "--unit",
            "HX-CG",
        )[0]
        == 0
    )
    assert run(capsys, *base, "--user", "l1", "--now", "2025-01-24T17:00:00", "ticket", "accept", no)[0] == 0
    code, _, err = run(
        capsys,
        *base,
        "--user",
        "l1",
        "--now",
        "2025-01-24T17:10:00",
        "ticket",
        "return",
        no,
        "--code",
        "not_our_duty",
        "--reason",
        "非本单位",
        "--basis",
        "条例",
        "--suggested-unit",
        "JTW",
    )
    assert code == 2 and "督查部门同意" in err
    assert (
        run(
            capsys,
            *base,
            "--user",
            "l1",
            "--now",
            "2025-01-27T10:00:00",
            "ticket",
            "reply",
            no,
            "--text",
            GOOD_REPLY,
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            *base,
            "--user",
            "d1",
            "--now",
            "2025-01-27T11:00:00",
            "ticket",
            "review-reply",
            no,
            "--approve",
        )[0]
        == 0
    )
    assert (
        run(
            capsys,
            *base,
            "--user",
            "c1",
            "--now",
            "2025-01-27T12:00:00",
            "ticket",
            "callback",
            no,
            "--satisfaction",
            "基本满意",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, *base, "--user", "d1", "ticket", "show", no, "--json")
    data = json.loads(out)
    assert data["no"] == no and data["status"] == "closed" and data["type"] == "complaint"
    assert data["channel"] == "phone" and data["urgency"] == "normal" and data["labels"] == ["互联网+督查"]
    a = data["assignments"][0]
    assert {"unit", "role", "status", "due_at", "accepted_at", "returns", "extensions"} <= set(a)
    assert (
        a["unit"] == "HX-CG"
        and a["due_at"] == "2025-02-07T16:00:00+08:00"
        and a["accepted_at"] == "2025-01-24T17:00:00+08:00"
    )
    assert [e["kind"] for e in data["events"]][:3] == ["created", "dispatched", "accepted"]
    assert all({"kind", "at", "actor"} <= set(e) for e in data["events"])


def test_refused_and_malformed_commands(capsys: pytest.CaptureFixture[str], db: str) -> None:
    base = ["--db", db]
    code, _, err = run(
        capsys, *base, "--user", "a1", "ticket", "new", "--type", "闲聊", "--text", "你好你好你好"
    )
    assert code == 2 and "未知的诉求类型" in err and "consult(咨询)" in err
    code, _, err = run(capsys, *base, "--user", "nobody", "ticket", "list")
    assert code == 2 and "用户不存在" in err
    code, _, err = run(capsys, *base, "ticket", "dispatch")
    assert code == 2 and "命令格式错误" in err
    code, _, err = run(capsys, *base, "--user", "a1", "--now", "2025-13-01", "ticket", "list")
    assert code == 2 and "时间格式不正确" in err
    code, _, err = run(
        capsys, *base, "--user", "l1", "ticket", "new", "--type", "consult", "--text", "问一下社保怎么交"
    )
    assert code == 2 and "无权受理诉求" in err
    code, out, _ = run(capsys, *base, "--user", "d1", "ticket", "list", "--json")
    assert json.loads(out) == []  # nothing was created by the refused commands


def test_uninitialised_store_says_so(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "--db", f"sqlite:///{tmp_path / 'x.db'}", "--user", "a1", "ticket", "list")
    assert code == 2 and "hotline init" in err


def test_init_upgrades_without_losing_rows(capsys: pytest.CaptureFixture[str], db: str) -> None:
    assert (
        run(
            capsys,
            "--db",
            db,
            "--user",
            "a1",
            "ticket",
            "new",
            "--type",
            "consult",
            "--text",
            "社保卡丢了怎么补办",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, "--db", db, "init", "--json")
    data = json.loads(out)
    assert code == 0 and data["before"] == data["after"]
    code, out, _ = run(capsys, "--db", db, "--user", "a1", "ticket", "list", "--json")
    assert len(json.loads(out)) == 1


def test_python_m_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hotline_tui",
            "--db",
            f"sqlite:///{tmp_path / 'm.db'}",
            "rules",
            "triage",
            "社保卡怎么补办",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "accept" in proc.stdout


def test_kb_import_search_export_and_report(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    # DESIGN.md: KB import format; an unknown unit code is an error that lists the codes, nothing imported
    lines = [
        {"id": "T-1", "title": "社保卡补办", "body": "社保卡丢失后先挂失，再到合作银行网点补办，工本费20元。",
         "keywords": ["社保卡丢了"], "unit": "HX-CG", "category": "社会保障/社保卡",
         "valid_from": "2024-01-01", "valid_to": None},
        {"id": "T-2", "title": "公积金租房提取", "body": "无房职工租房可按月提取住房公积金。", "keywords": ["gjj"],
         "unit": "NOPE", "category": "住房公积金/提取", "valid_from": "2024-01-01", "valid_to": None},
    ]  # fmt: skip
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    code, _, err = run(capsys, "--db", db, "kb", "import", str(bad))
    assert code == 2 and "NOPE" in err and "HX-CG" in err
    code, out, _ = run(capsys, "--db", db, "kb", "search", "社保", "--json")
    assert json.loads(out) == []  # nothing was imported
    lines[1]["unit"] = "SW"
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    code, out, _ = run(capsys, "--db", db, "kb", "import", str(good), "--json")
    assert code == 0 and json.loads(out)["created"] == 2
    code, out, _ = run(capsys, "--db", db, "--now", "2025-03-01T10:00:00", "kb", "search", "社保", "--json")
    hits = json.loads(out)
    assert (
        hits[0]["id"] == "T-1"
        and {"id", "title", "score", "snippet"} <= set(hits[0])
        and "【" in hits[0]["snippet"]
    )
    code, out, _ = run(capsys, "--db", db, "kb", "search", "gjj", "--json")
    assert [h["id"] for h in json.loads(out)][:1] == ["T-2"]
    code, out, _ = run(capsys, "--db", db, "kb", "search", '"NEAR(社保 *', "--json")
    assert code == 0  # user input never reaches the query syntax raw
    code, out, _ = run(capsys, "--db", db, "kb", "export")
    assert code == 0 and len(out.strip().splitlines()) == 2
    code, out, _ = run(capsys, "--db", db, "--user", "d1", "kb", "report", "--month", "2025-01")
    assert code == 2  # a dispatcher does not file KB reports


def test_backup_and_restore_commands(capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path) -> None:
    # issue 4 point 5: hotline backup PATH / hotline restore, checked by restoring and comparing
    assert (
        run(
            capsys,
            "--db",
            db,
            "--user",
            "a1",
            "ticket",
            "new",
            "--type",
            "consult",
            "--text",
            "社保卡丢了怎么补办",
        )[0]
        == 0
    )
    code, _, err = run(capsys, "--db", db, "--user", "a1", "backup", str(tmp_path / "x.db"))
    assert code == 2 and "仅限系统管理员" in err
    code, out, _ = run(capsys, "--db", db, "backup", str(tmp_path / "b.db"), "--json")
    assert code == 0 and json.loads(out)["counts"]["ticket"] == 1
    code, _, err = run(capsys, "--db", db, "backup", str(tmp_path / "b.db"))
    assert code == 2 and "--force" in err
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    assert run(capsys, "--db", target, "restore", str(tmp_path / "b.db"))[0] == 0
    code, out, _ = run(capsys, "--db", target, "--user", "a1", "ticket", "list", "--json")
    assert [r["summary"] for r in json.loads(out)] == ["社保卡丢了怎么补办"]
    code, _, err = run(capsys, "--db", target, "restore", str(tmp_path / "b.db"))
    assert code == 2 and "--force" in err  # a non-empty store is not overwritten silently


def test_audit_verify_detects_an_edit_behind_the_applications_back(
    capsys: pytest.CaptureFixture[str], db: str, tmp_path: Path
) -> None:
    import sqlite3

    # T24 27; TA 28: every change leaves a trace nobody can quietly erase
    assert (
        run(
            capsys,
            "--db",
            db,
            "--user",
            "a1",
            "ticket",
            "new",
            "--type",
            "consult",
            "--text",
            "社保卡丢了怎么补办",
        )[0]
        == 0
    )
    code, out, _ = run(capsys, "--db", db, "audit", "verify", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    path = db.removeprefix("sqlite:///")
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE event SET actor = 'x' WHERE kind = 'created'")  # guarded by hotline init
    conn.execute("DROP TRIGGER event_no_update")
    conn.execute("UPDATE event SET actor = 'x' WHERE kind = 'created'")
    conn.commit()
    conn.close()
    code, out, _ = run(capsys, "--db", db, "audit", "verify")
    assert code == 1 and "被修改" in out
    code, _, err = run(capsys, "--db", db, "--user", "a1", "audit", "log")
    assert code == 2 and "无权查看审计日志" in err


def test_admin_commands_for_units_users_and_policy(capsys: pytest.CaptureFixture[str], db: str) -> None:
    assert run(capsys, "--db", db, "user", "add", "adm", "--role", "admin")[0] == 0
    base = ["--db", db, "--user", "adm"]
    code, _, err = run(
        capsys,
        *base,
        "unit",
        "add",
        "HX-NEW",
        "--name",
        "河西区新设中心",
        "--kind",
        "sub_unit",
        "--parent",
        "HX",
        "--keywords",
        "噪音、施工,噪音",
    )
    assert code == 0, err
    code, out, _ = run(capsys, *base, "--json", "unit", "list")
    row = next(u for u in json.loads(out) if u["code"] == "HX-NEW")
    assert row["parent"] == "HX" and row["keywords"] == [
        "噪音",
        "施工",
    ]  # deduplicated: dispatch suggestion uses them
    assert run(capsys, *base, "unit", "move", "HX-NEW", "--parent", "HX-NEW")[0] == 2  # a cycle, refused
    assert run(capsys, *base, "unit", "edit", "HX-NEW", "--keywords", "夜间施工")[0] == 0
    assert run(capsys, *base, "user", "edit", "l1", "--unit", "HX-NEW")[0] == 0
    code, _, err = run(capsys, *base, "unit", "deactivate", "HX-NEW")
    assert code == 0, err
    code, _, err = run(
        capsys, "--db", db, "--user", "l1", "unit", "add", "X1", "--name", "某单位", "--kind", "district"
    )
    assert code == 2 and "仅限系统管理员" in err
    assert run(capsys, *base, "user", "deactivate", "adm")[0] == 2  # not yourself
    assert run(capsys, *base, "user", "deactivate", "l1")[0] == 0
    assert run(capsys, "--db", db, "--user", "l1", "ticket", "list")[0] == 2  # a deactivated user cannot act
    assert run(capsys, *base, "policy", "set", "guangzhou")[0] == 0
    code, out, _ = run(capsys, *base, "--json", "audit", "log", "--limit", "20")
    kinds = {r["kind"] for r in json.loads(out)}
    assert {
        "unit_added",
        "unit_changed",
        "user_changed",
        "unit_deactivated",
        "user_deactivated",
        "policy_changed",
    } <= kinds


# ---------------------------------------------------------------- intake helpers


def test_intake_helper_commands(capsys: pytest.CaptureFixture[str], db: str) -> None:
    agent = ["--db", db, "--user", "a1", "--now", "2025-01-24T16:00:00"]

    def new(text: str, phone: str, district: str = "河西区") -> str:
        code, out, err = run(
            capsys,
            *agent,
            "ticket",
            "new",
            "--type",
            "投诉",
            "--text",
            text,
            "--phone",
            phone,
            "--district",
            district,
            "--json",
        )
        assert code == 0, err
        return str(json.loads(out)["no"])

    mine = new("河西区友谊路与南京路交口路灯不亮", "13812345678")
    other = new("南京路友谊路口的路灯坏了，电话13922223333", "13900001111")
    assert run(capsys, *agent, "ticket", "dispatch", mine, "--unit", "HX-CG")[0] == 0

    # history: the caller's own ticket, and the call is a repeat of it (T24 13(5))
    code, out, _ = run(
        capsys,
        *agent,
        "ticket",
        "history",
        "--phone",
        "138 1234 5678",
        "--text",
        "南京路友谊路口路灯坏了",
        "--json",
    )
    data = json.loads(out)
    assert code == 0 and data["phone"] == "13812345678" and data["total"] == 1
    assert [r["no"] for r in data["rows"]] == [mine] and data["rows"][0][
        "created_at"
    ] == "2025-01-24T16:00:00+08:00"
    assert data["repeat"]["no"] == mine and data["repeat"]["open"] is True
    assert "天津办法第十三条第（五）项" in data["repeat"]["message"] and data["abuse"] is None
    code, out, _ = run(
        capsys, *agent, "ticket", "history", "--phone", "13812345678", "--text", "南京路路灯坏了"
    )
    assert code == 0 and "重复诉求" in out and "可告知" in out
    code, _, err = run(capsys, *agent, "ticket", "history", "--phone", "1381")
    assert code == 2 and "联系电话格式不正确" in err

    # other callers' open tickets on the same matter: masked, the caller's own left out
    code, out, _ = run(
        capsys,
        *agent,
        "ticket",
        "similar",
        "--text",
        "南京路友谊路口路灯坏了",
        "--district",
        "河西区",
        "--exclude-phone",
        "13812345678",
        "--json",
    )
    rows = json.loads(out)
    assert code == 0 and [r["no"] for r in rows] == [other]
    assert "13922223333" not in out and "139****3333" in rows[0]["text"]

    # the agent tells the progress instead of a new ticket
    code, out, _ = run(
        capsys, *agent, "ticket", "repeat-call", mine, "--channel", "phone", "--note", "已告知进度"
    )
    assert code == 0 and "重复来电" in out
    code, out, _ = run(capsys, *agent, "ticket", "show", mine, "--json")
    assert [e["kind"] for e in json.loads(out)["events"]][-1] == "repeat_call"
    events = len(json.loads(out)["events"])
    code, _, err = run(capsys, *agent, "ticket", "repeat-call", mine, "--channel", "飞鸽")
    assert code == 2 and "未知的渠道" in err
    code, _, err = run(
        capsys, "--db", db, "--user", "l1", "ticket", "repeat-call", mine, "--channel", "phone"
    )
    assert code == 2 and "无权" in err
    code, out, _ = run(capsys, *agent, "ticket", "show", mine, "--json")
    assert len(json.loads(out)["events"]) == events  # refused: nothing recorded

    # suggestion, unit picker, lookup
    code, out, _ = run(
        capsys, *agent, "ticket", "suggest", "--text", "友谊路路灯不亮", "--district", "河西区", "--json"
    )
    rows = json.loads(out)
    assert code == 0 and rows[0]["code"] == "HX-CG" and "关键词“路灯”" in rows[0]["reasons"]
    code, out, _ = run(capsys, "--db", db, "unit", "find", "hxq", "--json")
    assert code == 0 and json.loads(out)[0]["code"] == "HX"
    code, out, _ = run(capsys, "--db", db, "unit", "find", "--json")
    listed = [r["code"] for r in json.loads(out)]
    assert "CENTRE" not in listed and listed.index("HX") < listed.index("HX-CG")
    code, out, _ = run(capsys, "--db", db, "unit", "find", "城管")
    assert code == 0 and "HX-CG" in out
    code, out, _ = run(capsys, *agent, "ticket", "lookup", "000002", "--json")
    assert code == 0 and [r["no"] for r in json.loads(out)] == [other]
    code, out, _ = run(capsys, *agent, "ticket", "lookup", "路灯", "友谊路")
    assert code == 0 and mine in out and other in out
    code, out, _ = run(
        capsys,
        "--db",
        db,
        "--user",
        "l1",
        "--now",
        "2025-01-25T09:00:00",
        "ticket",
        "lookup",
        "路灯",
        "--json",
    )
    assert [r["no"] for r in json.loads(out)] == [mine]  # a liaison sees their unit's orders only


def test_ticket_preview_command(capsys: pytest.CaptureFixture[str], db: str) -> None:
    base = ["--db", db, "--user", "a1", "--now", "2025-01-24T16:00:00"]
    code, out, _ = run(
        capsys,
        *base,
        "ticket",
        "preview",
        "--type",
        "投诉",
        "--channel",
        "12345电话",
        "--unit",
        "HX-CG",
        "--co",
        "HX-ZJ",
        "--json",
    )
    lines = json.loads(out)
    assert code == 0 and [(x["unit_code"], x["role"]) for x in lines] == [("HX-CG", "lead"), ("HX-ZJ", "co")]
    assert lines[0]["due_at"] == "2025-02-07T16:00:00+08:00"  # TTR 11(1) 5 WD across the Spring Festival
    assert lines[0]["accept_due_at"] == "2025-01-24T19:00:00+08:00"  # TTR 8(1) 3 hours
    code, out, _ = run(
        capsys,
        *base,
        "--policy",
        "guangzhou",
        "ticket",
        "preview",
        "--type",
        "咨询",
        "--channel",
        "phone",
        "--unit",
        "HX-CG",
    )
    assert (
        code == 0 and "1月27日(周一) 23:59:59" in out and "接单时限" not in out
    )  # GZ 17 next_day; no accept limit
    code, _, err = run(
        capsys, *base, "ticket", "preview", "--type", "投诉", "--channel", "phone", "--unit", "CENTRE"
    )
    assert code == 2 and "热线工作机构" in err
    code, _, err = run(capsys, *base, "ticket", "preview", "--type", "投诉", "--channel", "phone")
    assert code == 2 and "--unit" in err
