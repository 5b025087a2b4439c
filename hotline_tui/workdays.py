"""Working days on the official calendar, and deadline arithmetic exactly as DESIGN.md "Time" defines it.

``chinese-calendar`` knows the State Council's holidays and 调休 make-up days up to its release year.
Override files (``data/holidays/<year>.toml``, or rows an admin added to the store with
``hotline calendar add``) win over it for the dates they name and make a year "covered". A year that
neither knows falls back to Monday–Friday, and every answer that touched such a year carries a warning.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import chinese_calendar

from hotline_tui.clock import local
from hotline_tui.errors import CalendarError, InvalidInput

HOLIDAY_DIR = Path(__file__).parent / "data" / "holidays"
END_OF_DAY = time(23, 59, 59)

# 元旦 1月1日; 劳动节 5月1日、2日; 国庆节 10月1日至3日.
FIXED_HOLIDAYS = ((1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3))

HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

PeriodUnit = Literal["hours", "wd", "days"]
StartRule = Literal["same_time", "next_day"]


@cache
def package_covers(year: int) -> bool:
    """Whether chinese-calendar has the official data for ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


@cache
def _package_year(year: int) -> frozenset[int]:
    """Ordinals of the working days of ``year`` per chinese-calendar (computed once a year)."""
    start = date(year, 1, 1)
    days = (date(year + 1, 1, 1) - start).days
    out = set()
    for i in range(days):
        d = start + timedelta(days=i)
        if chinese_calendar.is_workday(d):
            out.add(d.toordinal())
    return frozenset(out)


@dataclass(frozen=True)
class HolidayFile:
    """The State Council's notice for one year: days off and weekend days that are working days."""

    year: int
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]
    source: str = ""

    @classmethod
    def parse(cls, text: str, origin: str, expect_year: int | None = None) -> HolidayFile:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CalendarError(f"{origin}：不是合法的 TOML（{exc}）") from None
        year = raw.get("year")
        if not isinstance(year, int) or not 1990 <= year <= 2200:
            raise CalendarError(f"{origin}：year 必须是四位年份整数")
        if expect_year is not None and year != expect_year:
            raise CalendarError(f"{origin}：文件中的 year = {year} 与指定年份 {expect_year} 不一致")
        unknown = set(raw) - {"year", "holidays", "workdays", "source"}
        if unknown:
            raise CalendarError(
                f"{origin}：未知的键 {', '.join(sorted(unknown))}（只允许 year、holidays、workdays、source）"
            )

        def dates(key: str) -> tuple[date, ...]:
            values = raw.get(key, [])
            if not isinstance(values, list):
                raise CalendarError(f"{origin}：{key} 必须是日期列表")
            out = []
            for i, v in enumerate(values):
                if isinstance(v, date) and not isinstance(v, datetime):
                    d = v
                elif isinstance(v, str):
                    try:
                        d = date.fromisoformat(v)
                    except ValueError:
                        raise CalendarError(f"{origin}：{key}[{i}] = {v!r} 不是 YYYY-MM-DD 日期") from None
                else:
                    raise CalendarError(f"{origin}：{key}[{i}] 不是日期")
                if d.year != year:
                    raise CalendarError(f"{origin}：{key}[{i}] = {d} 不在 {year} 年")
                out.append(d)
            return tuple(sorted(set(out)))

        holidays, workdays = dates("holidays"), dates("workdays")
        both = set(holidays) & set(workdays)
        if both:
            raise CalendarError(f"{origin}：{min(both)} 同时出现在 holidays 和 workdays 中")
        source = raw.get("source", "")
        return cls(year, holidays, workdays, source if isinstance(source, str) else "")

    @classmethod
    def read(cls, path: Path, expect_year: int | None = None) -> HolidayFile:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalendarError(f"无法读取节假日文件 {path}：{exc.strerror}") from None
        return cls.parse(text, str(path), expect_year)


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    explanation: str
    warnings: tuple[str, ...] = ()


@dataclass
class WorkCalendar:
    """Is a day a working day; add working days. Immutable after construction apart from caches."""

    overrides: dict[date, bool] = field(default_factory=dict)
    covered_years: set[int] = field(default_factory=set)
    _year_cache: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, extra: Iterable[HolidayFile] = (), holiday_dir: Path | None = HOLIDAY_DIR) -> WorkCalendar:
        """Shipped override files first, then ``extra`` (the store's), later ones winning."""
        files: list[HolidayFile] = []
        if holiday_dir is not None and holiday_dir.is_dir():
            for path in sorted(holiday_dir.glob("*.toml")):
                files.append(HolidayFile.read(path))
        files.extend(extra)
        cal = cls()
        for f in files:
            cal.apply(f)
        return cal

    def apply(self, f: HolidayFile) -> None:
        for d in f.holidays:
            self.overrides[d] = False
        for d in f.workdays:
            self.overrides[d] = True
        self.covered_years.add(f.year)
        self._year_cache.pop(f.year, None)

    def covers(self, year: int) -> bool:
        return year in self.covered_years or package_covers(year)

    def _year(self, year: int) -> frozenset[int]:
        cached = self._year_cache.get(year)
        if cached is not None:
            return cached
        if package_covers(year):
            base = set(_package_year(year))
        else:
            start = date(year, 1, 1)
            base = {
                (start + timedelta(days=i)).toordinal()
                for i in range((date(year + 1, 1, 1) - start).days)
                if (start + timedelta(days=i)).weekday() < 5
            }
            # Fixed-date statutory holidays (全国年节及纪念日放假办法) are known without the year's notice;
            # the lunar ones and the 调休 swaps are not, hence the warning.
            for month, day in FIXED_HOLIDAYS:
                base.discard(date(year, month, day).toordinal())
        for d, is_work in self.overrides.items():
            if d.year == year:
                (base.add if is_work else base.discard)(d.toordinal())
        result = frozenset(base)
        self._year_cache[year] = result
        return result

    def is_workday(self, d: date) -> bool:
        return d.toordinal() in self._year(d.year)

    def warning_for(self, year: int) -> str | None:
        if self.covers(year):
            return None
        return (
            f"{year}年的法定节假日安排尚未录入，暂按周一至周五为工作日计算（已扣除元旦、劳动节、国庆节固定假日）；"
            f"请管理员用 hotline calendar add {year} 文件 录入国务院办公厅通知"
        )

    def nth_workday_after(self, d: date, n: int) -> tuple[date, set[int]]:
        """The n-th working day strictly after ``d`` (n >= 1), and the years consulted."""
        if n < 1:
            raise InvalidInput("工作日数必须至少为1")
        years = {d.year}
        cur = d
        count = 0
        guard = 0
        while count < n:
            cur += timedelta(days=1)
            years.add(cur.year)
            if self.is_workday(cur):
                count += 1
            guard += 1
            if guard > 3660:
                raise CalendarError("在十年内找不到足够的工作日，请检查节假日数据")
        return cur, years

    def workdays_between(self, start: date, end: date) -> int:
        """Working days in the half-open range (start, end]."""
        count = 0
        cur = start
        while cur < end:
            cur += timedelta(days=1)
            if self.is_workday(cur):
                count += 1
        return count

    def add(self, start: datetime, amount: int, unit: PeriodUnit, rule: StartRule = "same_time") -> Deadline:
        """Add a period to ``start`` by the rule of DESIGN.md "Time"."""
        start = local(start).replace(microsecond=0)
        if amount < 1:
            raise InvalidInput("时限必须是正整数")
        if unit == "hours":
            due = start + timedelta(hours=amount)
            return Deadline(due, f"{amount}小时（自然时间，节假日照常计算）")
        if unit == "days":
            due = start + timedelta(days=amount)
            return Deadline(due, f"{amount}日（自然日）")
        if unit != "wd":
            raise InvalidInput(f"未知的时限单位：{unit}")
        day = start.date()
        target, years = self.nth_workday_after(day, amount)
        skipped = self._skipped(day, target)
        if rule == "next_day":
            due = datetime.combine(target, END_OF_DAY, start.tzinfo)
            how = f"{amount}个工作日，自收到次日起算，截至第{amount}个工作日 23:59:59"
        elif self.is_workday(day):
            due = datetime.combine(target, start.time(), start.tzinfo)
            how = f"{amount}个工作日，自派达时刻起算，截至第{amount}个工作日的同一时刻"
        else:
            due = datetime.combine(target, END_OF_DAY, start.tzinfo)
            how = f"{amount}个工作日，起算日为非工作日，截至其后第{amount}个工作日 23:59:59"
        if skipped:
            how += f"（跳过{skipped}）"
        warnings = tuple(w for y in sorted(years) if (w := self.warning_for(y)))
        return Deadline(due, how, warnings)

    def holiday_name(self, d: date) -> str | None:
        """The Chinese name of the statutory holiday on ``d``, when the package knows it."""
        if self.overrides.get(d) is False or not package_covers(d.year):
            return None
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(d)
        except NotImplementedError:
            return None
        if not on_holiday or not name:
            return None
        return HOLIDAY_NAMES.get(str(name), str(name))

    def _skipped(self, start: date, end: date) -> str:
        """Describe the non-working days between start and end, for the explanation."""
        off = 0
        makeup = []
        holidays: list[str] = []
        cur = start
        while cur < end:
            cur += timedelta(days=1)
            work = self.is_workday(cur)
            if not work:
                off += 1
                name = self.holiday_name(cur)
                if name and name not in holidays:
                    holidays.append(name)
            elif cur.weekday() >= 5:
                makeup.append(f"{cur.month}月{cur.day}日调休上班")
        parts = []
        if holidays:
            parts.append("、".join(holidays) + "假期")
        if off:
            parts.append(f"共{off}天非工作日")
        if makeup:
            parts.append("，".join(makeup) + "计入")
        return "；".join(parts)

    def month_days(self, year: int, month: int) -> list[tuple[date, bool]]:
        start = date(year, month, 1)
        out = []
        cur = start
        while cur.month == month:
            out.append((cur, self.is_workday(cur)))
            cur += timedelta(days=1)
        return out

    def first_workday_on_or_after(self, d: date) -> date:
        cur = d
        while not self.is_workday(cur):
            cur += timedelta(days=1)
        return cur
