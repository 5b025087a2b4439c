"""Deadlines from the profile and the calendar: handling, acceptance, return window, appeal window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from hotline_tui.clock import iso, local
from hotline_tui.errors import InvalidInput
from hotline_tui.policy import DeadlineRule, Period, Policy, UnitGroup
from hotline_tui.workdays import Deadline, WorkCalendar


@dataclass(frozen=True)
class DueAnswer:
    due_at: datetime
    rule: str
    explanation: str
    period: Period
    warnings: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "due_at": iso(self.due_at),
            "rule": self.rule,
            "explanation": self.explanation,
            "period": self.period.label(),
            "warnings": list(self.warnings),
        }


def add_period(cal: WorkCalendar, policy: Policy, start: datetime, period: Period) -> Deadline:
    return cal.add(start, period.amount, period.unit, policy.wd_start)


def handling_due(
    policy: Policy, cal: WorkCalendar, *, type_: str, channel: str, urgency: str, start: datetime
) -> tuple[DueAnswer, DeadlineRule]:
    """The handling deadline for an order dispatched at ``start`` (T24 16; TTR 11; GZ 17)."""
    for code, known, what in ((type_, policy.types, "诉求类型"), (channel, policy.channels, "渠道")):
        if code not in known:
            raise InvalidInput(
                f"未知的{what}：{code}（可选：{'、'.join(f'{k}({v})' for k, v in known.items())}）"
            )
    if urgency not in policy.urgencies:
        raise InvalidInput(f"未知的紧急程度：{urgency}（可选：{'、'.join(policy.urgencies)}）")
    rule = policy.deadline_rule(channel, type_, urgency)
    deadline = add_period(cal, policy, start, rule.period)
    label = f"办理时限 {rule.period.label()}（{policy.channel_label(channel)}·{policy.type_label(type_)}"
    if urgency != "normal":
        label += f"·{policy.urgency_label(urgency)}"
    label += f"）→ {describe_time(deadline.due_at, start)}；{deadline.explanation}"
    return DueAnswer(deadline.due_at, rule.cite, label, rule.period, deadline.warnings), rule


def return_window(policy: Policy, group: UnitGroup | None) -> tuple[Period, Period | None, str]:
    if group is not None and group.return_window is not None:
        return group.return_window, group.return_window_complex, group.cite
    return policy.return_window, policy.return_window_complex, policy.return_cite


def accept_limit(policy: Policy, group: UnitGroup | None) -> tuple[Period | None, str]:
    if group is not None and group.accept_limit is not None:
        return group.accept_limit, group.cite
    return policy.accept_limit, policy.accept_cite


def appeal_deadline(policy: Policy, cal: WorkCalendar, rated_at: datetime) -> datetime | None:
    """Last moment a unit may appeal a dissatisfied rating given at ``rated_at`` (TTR 28)."""
    rules = policy.appeal
    rated = local(rated_at)
    if rules.window == "monthly_day":
        year, month = (rated.year + 1, 1) if rated.month == 12 else (rated.year, rated.month + 1)
        last = date(year, month, rules.day)
        if rules.postpone_on_non_workday:
            last = cal.first_workday_on_or_after(last)
        return datetime.combine(last, time(23, 59, 59), rated.tzinfo)
    if rules.window == "days_after_rating":
        return cal.add(rated, rules.day, "wd", "next_day").due_at
    return None


WEEKDAYS = "一二三四五六日"


def describe_time(at: datetime, now: datetime | None = None) -> str:
    """Short Chinese time for banners: 今天 19:00 / 明天 09:00 / 2月5日(周三) 16:00."""
    at = local(at)
    hm = at.strftime("%H:%M") if at.second == 0 else at.strftime("%H:%M:%S")
    if now is not None:
        delta = (at.date() - local(now).date()).days
        if delta == 0:
            return f"今天 {hm}"
        if delta == 1:
            return f"明天 {hm}"
    year = f"{at.year}年" if now is None or at.year != local(now).year else ""
    return f"{year}{at.month}月{at.day}日(周{WEEKDAYS[at.weekday()]}) {hm}"
