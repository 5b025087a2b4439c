"""The one source of 'now'. Tests and practice mode fix it; everything else asks it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from hotline_tui.errors import InvalidInput

TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(TZ).replace(microsecond=0)


class FixedClock:
    """A clock that stays where it is put (and can be moved forward by tests)."""

    def __init__(self, at: datetime) -> None:
        self.at = local(at)

    def now(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = local(at)


def local(dt: datetime) -> datetime:
    """An aware datetime in Asia/Shanghai; naive input is taken as Asia/Shanghai local time."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=TZ)
    return dt.astimezone(TZ)


# The years a time given by a user may fall in: deadlines computed from it stay far from datetime's limits.
MIN_YEAR, MAX_YEAR = 1990, 2200


def parse_datetime(text: str) -> datetime:
    """Parse an ISO date or datetime given by a user; naive means Asia/Shanghai."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), time(0, 0), TZ)
        else:
            parsed = local(datetime.fromisoformat(raw.replace(" ", "T", 1)))
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 moved to Asia/Shanghai
        raise InvalidInput(f"时间格式不正确：{text!r}，应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM:SS") from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise InvalidInput(f"时间超出范围：{text!r}，年份应在 {MIN_YEAR} 至 {MAX_YEAR} 之间")
    return parsed


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"日期格式不正确：{text!r}，应为 YYYY-MM-DD") from None


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 local time to the second, the form every output uses."""
    if dt is None:
        return None
    return local(dt).replace(microsecond=0).isoformat()


def shown(dt: datetime | None) -> str:
    """A time for messages people read: ``2025-01-24 16:15:00`` in local time (``iso`` is for data)."""
    return "" if dt is None else local(dt).strftime("%Y-%m-%d %H:%M:%S")


def to_utc(dt: datetime) -> datetime:
    return local(dt).astimezone(UTC)
