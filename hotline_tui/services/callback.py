"""Callback (回访) and satisfaction (T24 18; GZ 20; TTR 17-21)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hotline_tui.clock import local
from hotline_tui.errors import InvalidInput, RuleViolation
from hotline_tui.models import SATISFACTION, Ticket
from hotline_tui.policy import Period
from hotline_tui.services.core import (
    Ctx,
    check_version,
    clean_text,
    get_ticket,
    record_event,
    require_role,
    ticket_assignments,
)
from hotline_tui.services.deadlines import add_period

CALLBACK_ROLES = ("callback", "supervisor")
DISSATISFIED_REASONS = {
    "unsolved": "问题未解决",
    "not_contacted": "承办单位未联系诉求人",
    "staff_attitude": "工作人员态度问题",
    "policy": "对政策本身不满",
    "unreasonable": "诉求不合理未得到满足",
    "recurred": "问题解决后又出现",
    "other": "其他",
}


def record_callback(
    ctx: Ctx,
    no: str,
    *,
    reached: bool,
    satisfaction: str | None = None,
    solved: bool | None = None,
    words: str = "",
    reason: str = "",
    rehandle: bool | None = None,
    expected_version: int | None = None,
    retry_at: datetime | None = None,
) -> Ticket:
    """Record one callback attempt. A first "dissatisfied" sends the order back for re-handling once,
    with no extension (T24 18 第二款; GZ 20); a later one closes it (the unit may appeal).

    An attempt that does not reach the caller is counted; the order waits until ``retry_at`` (by default
    the profile's ``retry_minutes`` later) and closes unrated after ``max_attempts`` in one callback round
    (the count starts again when a dissatisfied order comes back from re-handling)."""
    require_role(ctx, *CALLBACK_ROLES, what="记录回访")
    p = ctx.policy
    cb = p.callback
    words = clean_text(words, field="诉求人意见", max_len=2000)
    if reached:
        if satisfaction not in SATISFACTION:
            options = "、".join(f"{k}({v})" for k, v in SATISFACTION.items())
            raise InvalidInput(f"请选择满意度：{options}")
        if satisfaction == "dissatisfied" and reason and reason not in DISSATISFIED_REASONS:
            options = "、".join(f"{k}({v})" for k, v in DISSATISFIED_REASONS.items())
            raise InvalidInput(f"未知的不满意原因：{reason}（可选：{options}）")
    with ctx.write() as s:
        t = get_ticket(s, no, lock=True)
        check_version(t, expected_version, f"工单 {t.no}")
        if t.status != "callback":
            raise RuleViolation(f"工单 {t.no} 不在待回访状态（只有答复审核通过的工单进行回访，{cb.cite}）")
        now = ctx.now()
        payload: dict[str, Any] = {"reached": reached}
        if not reached:
            t.callback_attempts += 1
            payload["attempt"] = t.callback_attempts
            if t.callback_attempts >= cb.max_attempts:
                t.status = "closed"
                t.closed_at = now
                payload["closed"] = f"{cb.max_attempts}次未联系上诉求人，按未回访办结"
            else:
                when = local(retry_at) if retry_at is not None else now + timedelta(minutes=cb.retry_minutes)
                if when <= now:
                    raise InvalidInput("再次拨打的时间应晚于现在")
                payload["retry_at"] = when
            s.add(t)
            record_event(ctx, s, "callback", ticket=t, payload=payload)
            return t
        assert satisfaction is not None
        t.satisfaction = satisfaction
        t.solved = solved
        t.rated_at = now
        t.callback_attempts += 1
        payload.update(satisfaction=satisfaction, solved=solved, words=words)
        if satisfaction != "dissatisfied":
            t.status = "closed"
            t.closed_at = now
        else:
            t.dissatisfied_count += 1
            t.dissatisfied_reason = reason or "other"
            payload["reason"] = t.dissatisfied_reason
            can_rehandle = t.dissatisfied_count <= cb.rehandle_max
            if rehandle is True and not can_rehandle:
                raise RuleViolation(
                    f"该工单已重新办理{cb.rehandle_max}次，不能再次退回重办（{cb.cite_rehandle}）"
                )
            if can_rehandle and rehandle is not False:
                sent = 0
                for a in ticket_assignments(s, t):
                    if a.status == "approved" and a.role in ("single", "lead"):
                        period = Period(a.period_amount, a.period_unit)  # type: ignore[arg-type]
                        a.status = "handling"
                        a.rehandling = True
                        a.rehandles += 1
                        a.replied_at = None
                        a.closed_at = None
                        a.due_at = add_period(ctx.calendar, p, now, period).due_at
                        s.add(a)
                        sent += 1
                if sent == 0:
                    raise RuleViolation("没有可以重新办理的承办单位")
                t.status = "rehandling"
                t.callback_attempts = 0  # the next callback round counts its own attempts
                payload["rehandle"] = True
                payload["rule"] = cb.cite_rehandle
            else:
                t.status = "closed"
                t.closed_at = now
        s.add(t)
        record_event(ctx, s, "callback", ticket=t, payload=payload)
    return t
