"""Chinese labels the screens show for codes stored in events and assignments."""

from __future__ import annotations

from typing import Any

EVENT_LABELS = {
    "created": "受理",
    "answered": "当场答复",
    "referred": "转接/告知",
    "dispatched": "派单",
    "designated": "指定派单",
    "split_created": "拆分生成",
    "accepted": "接单",
    "return_requested": "申请退单",
    "return_approved": "同意退单",
    "return_rejected": "驳回退单",
    "returned": "退单",
    "extension_requested": "申请延期",
    "extension_approved": "同意延期",
    "extension_rejected": "驳回延期",
    "stop_requested": "申请终止办理",
    "stop_approved": "同意终止办理",
    "stop_rejected": "驳回终止办理",
    "note": "办理进展",
    "replied": "答复",
    "reply_approved": "答复审核通过",
    "reply_sent_back": "答复退回重办",
    "callback": "回访",
    "appeal_requested": "申诉",
    "appeal_accepted": "申诉成立",
    "appeal_rejected": "申诉驳回",
    "pii_viewed": "查看诉求人信息",
    "closed": "办结",
}

ASSIGNMENT_ROLE_LABELS = {"single": "承办", "lead": "主办", "co": "协办"}

# What each role without a ticket list will get on its home screen (DESIGN.md "Users and their screens").
COMING_SCREENS = {
    "admin": "用户管理、单位管理、策略配置、数据备份",
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
    for key in ("text", "reason", "note", "title", "closed"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""
