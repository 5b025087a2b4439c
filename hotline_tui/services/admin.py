"""Units, users and calendar overrides: the admin's side of the store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from hotline_tui.errors import InvalidInput, NotFound
from hotline_tui.models import ROLE_LABELS, ROLES, CalendarDay, CalendarYear, Unit, User
from hotline_tui.policy import UNIT_KINDS
from hotline_tui.services.core import Ctx, clean_text, record_event, require_role
from hotline_tui.workdays import HolidayFile

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """scrypt (memory-hard, stdlib): ``scrypt$N$r$p$salt$hash``."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        calc = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(calc, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise InvalidInput("密码至少8位")
    if password.isdigit() or password.isalpha():
        raise InvalidInput("密码须同时包含字母和数字")


@dataclass(frozen=True)
class UnitSpec:
    code: str
    name: str
    kind: str
    parent: str | None
    keywords: tuple[str, ...]


def parse_units(text: str, origin: str) -> list[UnitSpec]:
    """``[[unit]] code, name, parent (code or absent), kind, keywords = [...]``; parents may come later."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{origin} 不是合法的 TOML：{exc}") from None
    items = raw.get("unit")
    if not isinstance(items, list) or not items:
        raise InvalidInput(f"{origin}：缺少 [[unit]] 表")
    out: list[UnitSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"{origin}：unit[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} 不是表")
        code = item.get("code")
        name = item.get("name")
        kind = item.get("kind", "department")
        parent = item.get("parent")
        keywords = item.get("keywords", [])
        if not isinstance(code, str) or not code.strip() or len(code) > 40:
            raise InvalidInput(f"{where}.code 必须是非空字符串（最多40字符）")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"{where}.name 必须是非空字符串")
        if kind not in UNIT_KINDS:
            raise InvalidInput(f"{where}.kind 未知：{kind!r}（可选：{'、'.join(UNIT_KINDS)}）")
        if parent is not None and not isinstance(parent, str):
            raise InvalidInput(f"{where}.parent 必须是单位代码")
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise InvalidInput(f"{where}.keywords 必须是字符串列表")
        if code in seen:
            raise InvalidInput(f"{where}.code 重复：{code}")
        seen.add(code)
        out.append(
            UnitSpec(
                code.strip(), clean_text(name, field="单位名称", max_len=120), kind, parent, tuple(keywords)
            )
        )
    return out


def import_units(ctx: Ctx, specs: list[UnitSpec]) -> dict[str, int]:
    """Create or update units by code; all or nothing. Parents may be in the file or in the store."""
    require_role(ctx, "admin", what="导入单位")
    created = updated = 0
    with ctx.write() as s:
        existing = {u.code: u for u in s.exec(select(Unit))}
        file_codes = {sp.code for sp in specs}
        for sp in specs:
            if sp.parent is not None and sp.parent not in file_codes and sp.parent not in existing:
                raise InvalidInput(f"单位 {sp.code} 的上级单位 {sp.parent} 不存在")
        for sp in specs:
            unit = existing.get(sp.code)
            if unit is None:
                unit = Unit(code=sp.code, name=sp.name, kind=sp.kind, keywords=list(sp.keywords))
                existing[sp.code] = unit
                created += 1
            else:
                unit.name, unit.kind, unit.keywords = sp.name, sp.kind, list(sp.keywords)
                updated += 1
            s.add(unit)
        s.flush()
        for sp in specs:
            unit = existing[sp.code]
            unit.parent_id = existing[sp.parent].id if sp.parent else None
            s.add(unit)
        s.flush()
        _check_acyclic(s)
        record_event(ctx, s, "units_imported", payload={"created": created, "updated": updated})
    return {"created": created, "updated": updated}


def _check_acyclic(s: Session) -> None:
    parents = {u.id: u.parent_id for u in s.exec(select(Unit))}
    for start in parents:
        seen = set()
        cur: int | None = start
        while cur is not None:
            if cur in seen:
                raise InvalidInput("单位层级出现循环（某单位成为自己的上级）")
            seen.add(cur)
            cur = parents.get(cur)


def list_units(ctx: Ctx) -> list[dict[str, Any]]:
    with ctx.read() as s:
        units = list(s.exec(select(Unit).order_by(col(Unit.code))))
    by_id = {u.id: u for u in units}
    return [
        {
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "parent": by_id[u.parent_id].code if u.parent_id in by_id else None,
            "keywords": u.keywords,
        }
        for u in units
    ]


def add_user(
    ctx: Ctx,
    name: str,
    role: str,
    unit_code: str | None = None,
    password: str | None = None,
    display_name: str = "",
) -> User:
    require_role(ctx, "admin", what="添加用户")
    name = clean_text(name, field="用户名", max_len=64, required=True)
    if any(ch.isspace() for ch in name):
        raise InvalidInput("用户名不能包含空格")
    if role not in ROLES:
        raise InvalidInput(
            f"未知的角色：{role}（可选：{'、'.join(f'{r}({ROLE_LABELS[r]})' for r in ROLES)}）"
        )
    if password is not None:
        validate_password(password)
    with ctx.write() as s:
        if s.exec(select(User).where(User.name == name)).first() is not None:
            raise InvalidInput(f"用户已存在：{name}")
        unit_id = None
        if unit_code:
            unit = s.exec(select(Unit).where(Unit.code == unit_code)).first()
            if unit is None:
                raise NotFound(f"单位不存在：{unit_code}")
            unit_id = unit.id
        elif role == "liaison":
            raise InvalidInput("承办单位联络员必须指定所属单位（--unit）")
        user = User(
            name=name,
            display_name=clean_text(display_name, field="姓名", max_len=64) or name,
            role=role,
            unit_id=unit_id,
            password_hash=hash_password(password) if password else "",
            created_at=ctx.now(),
        )
        s.add(user)
        s.flush()
        record_event(ctx, s, "user_added", payload={"user": name, "role": role, "unit": unit_code})
    return user


def set_password(ctx: Ctx, name: str, password: str) -> None:
    if ctx.actor.name != name:
        require_role(ctx, "admin", what="修改他人密码")
    validate_password(password)
    with ctx.write() as s:
        user = s.exec(select(User).where(User.name == name)).first()
        if user is None:
            raise NotFound(f"用户不存在：{name}")
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        s.add(user)
        record_event(ctx, s, "password_changed", payload={"user": name})


def list_users(ctx: Ctx) -> list[dict[str, Any]]:
    require_role(ctx, "admin", "supervisor", what="查看用户列表")
    with ctx.read() as s:
        units = {u.id: u.code for u in s.exec(select(Unit))}
        users = list(s.exec(select(User).order_by(col(User.name))))
    return [
        {
            "name": u.name,
            "display_name": u.display_name,
            "role": u.role,
            "role_label": ROLE_LABELS.get(u.role, u.role),
            "unit": units.get(u.unit_id) if u.unit_id else None,
            "active": u.active,
        }
        for u in users
    ]


def add_calendar(ctx: Ctx, year: int, path: Path) -> HolidayFile:
    """Store the State Council's notice for a year the calendar package does not know."""
    require_role(ctx, "admin", what="录入节假日安排")
    f = HolidayFile.read(path, expect_year=year)
    with ctx.write() as s:
        for row in s.exec(select(CalendarDay).where(CalendarDay.year == year)):
            s.delete(row)
        old = s.get(CalendarYear, year)
        if old is not None:
            s.delete(old)
        s.flush()
        for d in f.holidays:
            s.add(CalendarDay(day=d, year=year, is_workday=False, source=f.source or path.name))
        for d in f.workdays:
            s.add(CalendarDay(day=d, year=year, is_workday=True, source=f.source or path.name))
        s.add(CalendarYear(year=year, source=f.source or path.name, added_at=ctx.now()))
        record_event(
            ctx,
            s,
            "calendar_added",
            payload={"year": year, "holidays": len(f.holidays), "workdays": len(f.workdays)},
        )
    ctx.reload_calendar()
    return f
