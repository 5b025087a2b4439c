"""Deadline arithmetic exactly as DESIGN.md "Time": Spring Festival, National Day, 调休, into 2027."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hotline_tui.clock import iso, parse_datetime
from hotline_tui.errors import CalendarError
from hotline_tui.policy import load_policy
from hotline_tui.services.deadlines import appeal_deadline, handling_due
from hotline_tui.workdays import HolidayFile, WorkCalendar


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.load()


@pytest.mark.parametrize(
    ("start", "amount", "unit", "rule", "expected"),
    [
        # DESIGN.md "Time" examples
        ("2025-01-24T16:00:00", 3, "hours", "same_time", "2025-01-24T19:00:00+08:00"),
        (
            "2025-01-24T16:00:00",
            3,
            "wd",
            "same_time",
            "2025-02-05T16:00:00+08:00",
        ),  # 01-26 调休, Spring Festival
        ("2025-10-03T14:00:00", 3, "wd", "same_time", "2025-10-11T23:59:59+08:00"),  # start on a holiday
        ("2025-01-24T16:00:00", 2, "wd", "next_day", "2025-01-27T23:59:59+08:00"),  # GZ 14/17
        # hours run through nights and holidays (TTR 11(1) 特急 1 hour)
        ("2025-01-28T23:30:00", 1, "hours", "same_time", "2025-01-29T00:30:00+08:00"),
        # 调休 Saturday 2025-02-08 is a working day
        ("2025-02-07T16:00:00", 1, "wd", "same_time", "2025-02-08T16:00:00+08:00"),
        # National Day 2025: 09-28 (Sun) works, 10-01..10-08 off, 10-11 (Sat) works
        ("2025-09-26T09:15:30", 2, "wd", "same_time", "2025-09-29T09:15:30+08:00"),
        ("2025-09-30T16:00:00", 5, "wd", "same_time", "2025-10-14T16:00:00+08:00"),
        ("2025-09-30T16:00:00", 2, "wd", "next_day", "2025-10-10T23:59:59+08:00"),
        # start on an ordinary weekend
        ("2025-03-08T10:00:00", 1, "wd", "same_time", "2025-03-10T23:59:59+08:00"),
        ("2025-03-08T10:00:00", 1, "wd", "next_day", "2025-03-10T23:59:59+08:00"),
        # 2026 Spring Festival: 02-14 (Sat) and 02-28 (Sat) are working days
        ("2026-02-13T10:00:00", 1, "wd", "same_time", "2026-02-14T10:00:00+08:00"),
        ("2026-02-14T10:00:00", 1, "wd", "same_time", "2026-02-24T10:00:00+08:00"),
        # natural days
        ("2025-01-24T16:00:00", 1, "days", "same_time", "2025-01-25T16:00:00+08:00"),
    ],
)
def test_deadline_table(
    cal: WorkCalendar, start: str, amount: int, unit: str, rule: str, expected: str
) -> None:
    assert iso(cal.add(parse_datetime(start), amount, unit, rule).due_at) == expected  # type: ignore[arg-type]


def test_spring_festival_explanation_names_the_holiday(cal: WorkCalendar) -> None:
    d = cal.add(parse_datetime("2025-01-24T16:00:00"), 3, "wd", "same_time")
    assert "春节" in d.explanation and "1月26日调休上班" in d.explanation
    assert d.warnings == ()


def test_known_makeup_days_are_workdays(cal: WorkCalendar) -> None:
    for day in (
        "2025-01-26",
        "2025-02-08",
        "2025-09-28",
        "2025-10-11",
        "2026-02-14",
        "2026-02-28",
        "2026-09-20",
        "2026-10-10",
    ):
        assert cal.is_workday(date.fromisoformat(day)), day
    for day in ("2025-01-28", "2025-02-04", "2025-10-08", "2026-02-16", "2026-10-01"):
        assert not cal.is_workday(date.fromisoformat(day)), day


def test_2027_falls_back_to_weekdays_with_a_warning(cal: WorkCalendar) -> None:
    # chinese-calendar 1.11.0 knows 2004-2026 only; a deadline reaching 2027 must still work today
    d = cal.add(parse_datetime("2026-12-30T10:00:00"), 3, "wd", "same_time")
    # 12-31 (Thu) WD1; 2027-01-01 is the fixed New Year holiday; 01-04 (Mon) WD2; 01-05 WD3
    assert iso(d.due_at) == "2027-01-05T10:00:00+08:00"
    assert len(d.warnings) == 1 and "2027" in d.warnings[0] and "hotline calendar add" in d.warnings[0]


def test_fixed_date_statutory_holidays_hold_in_fallback_years(cal: WorkCalendar) -> None:
    for day in ("2027-05-03", "2027-10-01", "2028-01-03"):
        dd = date.fromisoformat(day)
        assert cal.is_workday(dd) == (
            dd.weekday() < 5 and (dd.month, dd.day) not in {(5, 1), (5, 2), (10, 1)}
        )
    assert not cal.is_workday(date(2027, 10, 1))


def test_override_file_wins_and_removes_the_warning(tmp_path: Path) -> None:
    path = tmp_path / "2027.toml"
    path.write_text(
        'year = 2027\nholidays = ["2027-02-05", "2027-02-08", "2027-02-09"]\nworkdays = ["2027-02-06"]\n',
        encoding="utf-8",
    )
    cal = WorkCalendar.load([HolidayFile.read(path)])
    assert cal.covers(2027)
    assert not cal.is_workday(date(2027, 2, 5)) and cal.is_workday(date(2027, 2, 6))
    d = cal.add(parse_datetime("2027-02-04T09:00:00"), 2, "wd", "same_time")
    assert iso(d.due_at) == "2027-02-10T09:00:00+08:00"  # WD1 02-06 (调休), WD2 02-10
    assert d.warnings == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("year = 2027\nholidays = ['2026-12-31']\n", "不在 2027 年"),
        ("year = 2027\nholidays = ['2027-13-01']\n", "不是 YYYY-MM-DD"),
        ("year = 2027\nholidays = ['2027-01-01']\nworkdays = ['2027-01-01']\n", "同时出现"),
        ("year = 'x'\n", "year"),
        ("year = 2027\nholiday = []\n", "未知的键"),
        ("year = [", "不是合法的 TOML"),
    ],
)
def test_bad_override_files_name_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(CalendarError) as exc:
        HolidayFile.parse(text, "2027.toml")
    assert fragment in exc.value.message and "2027.toml" in exc.value.message


def test_tianjin_handling_due_uses_ttr_table(cal: WorkCalendar) -> None:
    p = load_policy("tianjin")
    start = parse_datetime("2025-01-24T16:00:00")
    # TTR 11(1): consult 3 WD, complaint 5 WD, 特急 1 hour, 紧急 1 WD, 急 2 WD
    cases = {
        ("consult", "phone", "normal"): "2025-02-05T16:00:00+08:00",
        ("complaint", "phone", "normal"): "2025-02-07T16:00:00+08:00",
        ("complaint", "phone", "critical"): "2025-01-24T17:00:00+08:00",
        ("complaint", "phone", "very_urgent"): "2025-01-26T16:00:00+08:00",
        ("complaint", "phone", "urgent"): "2025-01-27T16:00:00+08:00",
        # TTR 11(3): 《政民零距离》 consult 2 WD
        ("consult", "zmlj", "normal"): "2025-01-27T16:00:00+08:00",
    }
    for (type_, channel, urgency), expected in cases.items():
        answer, rule = handling_due(p, cal, type_=type_, channel=channel, urgency=urgency, start=start)
        assert iso(answer.due_at) == expected, (type_, channel, urgency)
        assert "第十一条" in rule.cite


def test_guangzhou_counts_from_the_next_day(cal: WorkCalendar) -> None:
    p = load_policy("guangzhou")
    start = parse_datetime("2025-01-24T16:00:00")
    # GZ 17: consult 2 WD, others 10 WD, from the day after receipt
    consult, _ = handling_due(p, cal, type_="consult", channel="phone", urgency="normal", start=start)
    assert iso(consult.due_at) == "2025-01-27T23:59:59+08:00"
    other, rule = handling_due(p, cal, type_="complaint", channel="phone", urgency="normal", start=start)
    # WD after 01-24: 01-26, 01-27, 02-05, 02-06, 02-07, 02-08, 02-10, 02-11, 02-12, 02-13
    assert iso(other.due_at) == "2025-02-13T23:59:59+08:00"
    assert "第十七条" in rule.cite


def test_appeal_window_is_the_sixth_of_next_month_postponed_past_holidays(cal: WorkCalendar) -> None:
    p = load_policy("tianjin")
    # TTR 28: by the 6th of the next month; a non-working day moves it to the next working day
    assert iso(appeal_deadline(p, cal, parse_datetime("2025-03-15T10:00:00"))) == "2025-04-07T23:59:59+08:00"
    assert iso(appeal_deadline(p, cal, parse_datetime("2025-09-20T10:00:00"))) == "2025-10-09T23:59:59+08:00"
    assert iso(appeal_deadline(p, cal, parse_datetime("2025-04-10T10:00:00"))) == "2025-05-06T23:59:59+08:00"
    assert iso(appeal_deadline(p, cal, parse_datetime("2025-12-10T10:00:00"))) == "2026-01-06T23:59:59+08:00"
