"""The ticket's overall status, derived from its assignments after every change."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from hotline_tui.models import ACTIVE_ASSIGNMENT, Ticket
from hotline_tui.services.core import ticket_assignments


def callback_exempt(ticket: Ticket, anonymous_exempt: bool, no_reply_exempt: bool) -> str | None:
    """Why this ticket is closed without a callback (TTR 19; T24 16), or None."""
    if ticket.anonymous and anonymous_exempt:
        return "匿名反映，不进行回访"
    if ticket.no_reply and no_reply_exempt:
        return "诉求人要求不回复，不进行回访"
    return None


def refresh_ticket_status(session: Session, ticket: Ticket, now: datetime, exempt: str | None = None) -> str:
    if ticket.status in ("answered", "referred", "closed", "stopped"):
        return ticket.status
    rows = ticket_assignments(session, ticket)
    live = [a for a in rows if a.status not in ("returned", "cancelled")]
    if any(a.status in ACTIVE_ASSIGNMENT for a in live):
        ticket.status = "rehandling" if any(a.rehandling for a in live) else "dispatched"
    elif not live:
        ticket.status = "new"
    elif all(a.status == "stopped" for a in live):
        ticket.status = "stopped"
        ticket.closed_at = now
    else:
        if exempt:
            ticket.status = "closed"
            ticket.closed_at = now
        else:
            ticket.status = "callback"
    session.add(ticket)
    return ticket.status
