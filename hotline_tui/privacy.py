"""Masking of caller personal data (T24 19, 27). Pure functions; who sees what is decided in services."""

from __future__ import annotations

import re

FULL_PII_ROLES = frozenset({"agent", "dispatcher", "callback", "supervisor"})


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


PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|[2-9]\d{6,7})$")


def normalize_phone(raw: str) -> str:
    return re.sub(r"[\s\-()（）]", "", raw or "").removeprefix("+86").removeprefix("0086")


def valid_phone(raw: str) -> bool:
    cleaned = re.sub(r"[\s()（）]", "", raw or "").removeprefix("+86").removeprefix("0086")
    return bool(PHONE_RE.match(cleaned))
