"""Caller personal data: masking, finding it in free text, and who may see it (T24 11, 19, 27).

Pure functions. "谁管理、谁使用、谁负责" (T24 27): a role sees caller data in full only while its work
needs it; everyone else sees it masked (``138****1234``, ``张*``), and a unit never sees the caller of a
confidential order. Revealing a full value is a separate, audited action with a reason
(``services/privacy.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

# Roles that work with whole tickets and may reveal a caller's data, with a reason, on any ticket they see.
CENTRE_ROLES = frozenset({"agent", "dispatcher", "callback", "supervisor"})
# Kept for callers that only ask "is this a centre role" (visibility of ticket lists).
FULL_PII_ROLES = CENTRE_ROLES

Access = Literal["full", "masked", "hidden"]
PII_FIELDS = ("name", "phone", "address", "id_number")
FIELD_LABELS = {"name": "姓名", "phone": "联系电话", "address": "地址", "id_number": "身份证号"}


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) >= 11 and digits[-11:].isdigit() and digits[-11] == "1":
        return digits[:-11] + digits[-11:-8] + "****" + digits[-4:]
    if len(digits) >= 8:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    return "*" * len(digits)


def mask_name(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_address(address: str) -> str:
    address = address.strip()
    if not address:
        return ""
    # keep the district/street level, hide the building and door numbers
    cut = re.search(r"\d", address)
    keep = address[: cut.start()] if cut else address[: max(2, len(address) // 2)]
    return keep + "***"


def mask_id_number(value: str) -> str:
    """``120101199001011234`` → ``1201**********1234``: the province/city and the last four stay."""
    value = value.strip()
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_plate(value: str) -> str:
    """``津A12345`` → ``津A***45``."""
    compact = re.sub(r"[·•\s]", "", value)
    return compact[:2] + "*" * max(1, len(compact) - 4) + compact[-2:]


PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|[2-9]\d{6,7})$")


def normalize_phone(raw: str) -> str:
    return re.sub(r"[\s\-()（）]", "", raw or "").removeprefix("+86").removeprefix("0086")


def valid_phone(raw: str) -> bool:
    cleaned = re.sub(r"[\s()（）]", "", raw or "").removeprefix("+86").removeprefix("0086")
    return bool(PHONE_RE.match(cleaned))


# ---------------------------------------------------------------- resident ID numbers (GB 11643-1999)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dX]$")


def normalize_id_number(raw: str) -> str:
    return re.sub(r"\s", "", raw or "").upper()


def id_number_problem(raw: str) -> str | None:
    """``None`` when ``raw`` is a well-formed 18-digit resident ID number, else what is wrong (Chinese)."""
    value = normalize_id_number(raw)
    if len(value) != 18:
        return f"身份证号应为18位，实际为{len(value)}位"
    if not _ID_SHAPE.match(value):
        return "身份证号格式不正确（前17位为数字，出生日期须有效，末位为数字或X）"
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return "身份证号校验位不正确，请核对后重新输入"
    return None


# ---------------------------------------------------------------- personal data inside free text

_NOT_DIGIT_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_DIGIT_AFTER = r"(?![0-9A-Za-z])"
ID_IN_TEXT = re.compile(
    _NOT_DIGIT_BEFORE
    + r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    + _NOT_DIGIT_AFTER
)
MOBILE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?![0-9])")
LANDLINE_IN_TEXT = re.compile(r"(?<![0-9])0\d{2,3}-\d{7,8}(?![0-9])|(?<![0-9-])0\d{9,11}(?![0-9])")
PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
PLATE_IN_TEXT = re.compile(
    rf"[{PLATE_PROVINCES}][A-HJ-NP-Z][·•\s]?[A-HJ-NP-Z0-9]{{4}}[A-HJ-NP-Z0-9挂学警]{{1,2}}(?![A-Za-z0-9])"
)

PiiKind = Literal["id_number", "mobile", "landline", "plate"]
PII_KIND_LABELS = {"id_number": "身份证号", "mobile": "手机号码", "landline": "固定电话", "plate": "车牌号"}


@dataclass(frozen=True)
class PiiHit:
    kind: PiiKind
    value: str
    start: int
    end: int

    @property
    def key(self) -> str:
        """The value without separators, to compare with what the caller gave."""
        return re.sub(r"[\s\-·•+]", "", self.value).upper().removeprefix("86")

    @property
    def masked(self) -> str:
        if self.kind == "id_number":
            return mask_id_number(self.value)
        if self.kind == "plate":
            return mask_plate(self.value)
        return mask_phone(self.key)


def find_pii(
    text: str, kinds: tuple[str, ...] = ("id_number", "mobile", "landline", "plate")
) -> list[PiiHit]:
    """ID numbers, phone numbers and plate numbers in ``text``, in order, never overlapping."""
    hits: list[PiiHit] = []
    patterns: list[tuple[PiiKind, re.Pattern[str]]] = [
        ("id_number", ID_IN_TEXT),
        ("mobile", MOBILE_IN_TEXT),
        ("landline", LANDLINE_IN_TEXT),
        ("plate", PLATE_IN_TEXT),
    ]
    taken: list[tuple[int, int]] = []
    for kind, pattern in patterns:  # ID numbers first: an ID number contains digit runs like a phone's
        for m in pattern.finditer(text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            if kind in kinds:
                hits.append(PiiHit(kind, m.group(0), m.start(), m.end()))
    return sorted(hits, key=lambda h: h.start)


def mask_text(text: str, kinds: tuple[str, ...] = ("id_number", "mobile", "landline")) -> str:
    """``text`` with the phone and ID numbers in it masked (plates are usually the matter itself)."""
    if not text:
        return text
    out = []
    pos = 0
    for hit in find_pii(text, kinds):
        out.append(text[pos : hit.start])
        out.append(hit.masked)
        pos = hit.end
    out.append(text[pos:])
    return "".join(out)


def mask_deep(value: Any) -> Any:
    """``mask_text`` over every string inside a JSON-like value (event payloads, request reasons)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, list):
        return [mask_deep(v) for v in value]
    if isinstance(value, dict):
        return {k: mask_deep(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------- who sees what


def caller_access(role: str, *, ticket_status: str, confidential: bool, unit_is_assigned: bool) -> Access:
    """How the caller's data shows to ``role`` by default, without a reveal.

    * a callback officer sees the caller in full on orders waiting for callback: calling back is the work;
    * units (liaison officers) never see the caller of a confidential order (T24 14 保密事项; T24 19);
    * everyone else sees it masked, and reveals a field with a reason when the work needs it.
    """
    if role == "callback" and ticket_status == "callback":
        return "full"
    if role in CENTRE_ROLES:
        return "masked"
    if role == "liaison" and unit_is_assigned:
        return "hidden" if confidential else "masked"
    return "hidden"


def reveal_refusal(role: str, *, confidential: bool, unit_is_live: bool) -> str | None:
    """``None`` when ``role`` may reveal the caller's data with a reason; else why not (Chinese)."""
    if role in CENTRE_ROLES:
        return None
    if role == "liaison":
        if confidential:
            return "诉求人要求保密，承办单位不能查看诉求人信息（天津办法第十四条、第十九条）"
        if not unit_is_live:
            return "本单位对该工单的办理已结束，不能再查看诉求人完整信息"
        return None
    return "您的角色不需要查看诉求人个人信息"
