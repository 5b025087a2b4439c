"""Chinese labels the screens show for codes stored in events and assignments."""

from __future__ import annotations

from typing import Any

from hotline_tui.services.audit import EVENT_LABELS  # one table for the screens and the audit log

ASSIGNMENT_ROLE_LABELS = {"single": "承办", "lead": "主办", "co": "协办"}

# What each role without a ticket list will get on its home screen (DESIGN.md "Users and their screens").
COMING_SCREENS = {
    "kb_editor": "知识库编辑、审核队列、过期条目与月度知识库报告",
    "trainer": "演练模式：场景通话、评分、培训报告",
    "trainee": "演练模式：场景通话与评分",
}


def event_label(kind: str) -> str:
    return EVENT_LABELS.get(kind, kind)


def event_note(kind: str, payload: dict[str, Any]) -> str:
    """A one-line gist of an event's payload for the timeline (empty when there is nothing to add)."""
    if kind in ("dispatched", "designated"):
        units = payload.get("units") or []
        parts = [
            f"{u.get('unit', '')}（{ASSIGNMENT_ROLE_LABELS.get(u.get('role', ''), u.get('role', ''))}）"
            for u in units
            if isinstance(u, dict)
        ]
        return "、".join(parts)
    if kind == "created" and payload.get("attachments"):
        listed = [str(x) for x in payload["attachments"] if str(x).strip()]
        return "附件：" + "；".join(listed) if listed else ""
    if kind == "repeat_call":
        return "重复来电，已告知办理进度（未重复立单）"
    for key in ("text", "reason", "note", "title", "closed"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""
