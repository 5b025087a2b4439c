"""Units, users, the policy profile and calendar overrides: the admin's side of the store.

Every change checks the admin role, validates its input, and writes the row and one event in the same
transaction, or raises a domain error with a Chinese message and changes nothing. No event ever holds
a password or a password hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from hotline_tui.clock import iso, local
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied, PolicyError
from hotline_tui.models import (
    ACTIVE_ASSIGNMENT,
    ROLE_LABELS,
    ROLES,
    Assignment,
    CalendarDay,
    CalendarYear,
    Setting,
    Unit,
    User,
)
from hotline_tui.policy import DEFAULT_POLICY, UNIT_KINDS, Policy, available, load_policy
from hotline_tui.services.core import Ctx, clean_text, record_event, require_role, unit_subtree
from hotline_tui.workdays import HolidayFile

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

UNIT_KIND_LABELS = {
    "centre": "热线中心",
    "district": "区级政府",
    "department": "职能部门",
    "sub_unit": "下属单位",
    "utility": "公用事业单位",
    "sub_centre": "热线分中心",
    "dual_number": "双号并行单位",
    "enterprise": "企业",
}
# Roles whose work is scoped by a unit: a liaison must have one, a KB editor may (none: the centre).
UNIT_ROLES = ("liaison", "kb_editor")
UNIT_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
KEYWORD_SPLIT_RE = re.compile(r"[\s,，、;；]+")
KEYWORD_MAX_LEN = 20
KEYWORDS_MAX = 50


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
        if not isinstance(code, str) or not UNIT_CODE_RE.fullmatch(code.strip()):
            raise InvalidInput(
                f"{where}.code 须由字母、数字和 - _ . 组成，以字母或数字开头，最多40个字符，例如 HX-CG"
            )
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput(f"{where}.name 必须是非空字符串")
        if kind not in UNIT_KINDS:
            raise InvalidInput(f"{where}.kind 未知：{kind!r}（可选：{'、'.join(UNIT_KINDS)}）")
        if parent is not None and (not isinstance(parent, str) or not UNIT_CODE_RE.fullmatch(parent.strip())):
            raise InvalidInput(f"{where}.parent 必须是单位代码")
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            raise InvalidInput(f"{where}.keywords 必须是字符串列表")
        keywords = parse_keywords(keywords)  # cleaned, deduplicated, length-checked like the admin screen
        if code in seen:
            raise InvalidInput(f"{where}.code 重复：{code}")
        seen.add(code)
        out.append(
            UnitSpec(
                code.strip(),
                clean_text(name, field="单位名称", max_len=120),
                kind,
                parent.strip() if parent else None,
                tuple(keywords),
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


def list_units(ctx: Ctx, *, with_counts: bool = False) -> list[dict[str, Any]]:
    """Every unit (inactive ones too), by code. ``with_counts`` adds ``live`` (assignments still
    pending, handling or replied) and ``users`` (active user accounts) per unit."""
    with ctx.read() as s:
        units = list(s.exec(select(Unit).order_by(col(Unit.code))))
        live: dict[int, int] = {}
        users: dict[int, int] = {}
        if with_counts:
            live = {
                uid: int(n)
                for uid, n in s.exec(
                    select(Assignment.unit_id, func.count())
                    .where(col(Assignment.status).in_(ACTIVE_ASSIGNMENT))
                    .group_by(col(Assignment.unit_id))
                )
            }
            users = {
                uid: int(n)
                for uid, n in s.exec(
                    select(User.unit_id, func.count())
                    .where(col(User.active), col(User.unit_id).is_not(None))
                    .group_by(col(User.unit_id))
                )
                if uid is not None
            }
    by_id = {u.id: u for u in units}
    rows = []
    for u in units:
        row: dict[str, Any] = {
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "kind_label": UNIT_KIND_LABELS.get(u.kind, u.kind),
            "parent": by_id[u.parent_id].code if u.parent_id in by_id else None,
            "keywords": u.keywords,
            "active": u.active,
        }
        if with_counts:
            assert u.id is not None
            row["live"] = live.get(u.id, 0)
            row["users"] = users.get(u.id, 0)
        rows.append(row)
    return rows


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
        unit_code = (unit_code or "").strip() or None
        if unit_code:
            unit_id = _assignable_unit(s, unit_code).id
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
    now = ctx.now()
    with ctx.read() as s:
        units = {u.id: u for u in s.exec(select(Unit))}
        users = list(s.exec(select(User).order_by(col(User.name))))
    out = []
    for u in users:
        unit = units.get(u.unit_id) if u.unit_id else None
        locked = u.locked_until is not None and local(u.locked_until) > now
        expired = u.locked_until is not None and not locked  # the next login starts counting afresh
        out.append(
            {
                "name": u.name,
                "display_name": u.display_name,
                "role": u.role,
                "role_label": ROLE_LABELS.get(u.role, u.role),
                "unit": unit.code if unit else None,
                "unit_name": unit.name if unit else None,
                "active": u.active,
                "failed_logins": 0 if expired else u.failed_logins,
                "locked_until": iso(local(u.locked_until)) if locked and u.locked_until else None,
                "has_password": bool(u.password_hash),
            }
        )
    return out


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


# ---------------------------------------------------------------- users: changes after creation


def _user_row(s: Session, name: str) -> User:
    user = s.exec(select(User).where(User.name == (name or "").strip()).with_for_update()).first()
    if user is None:
        raise NotFound(f"用户不存在：{name}")
    return user


def _unit_row(s: Session, code: str, *, what: str = "单位") -> Unit:
    unit = s.exec(select(Unit).where(Unit.code == (code or "").strip())).first()
    if unit is None:
        raise NotFound(f"{what}不存在：{code}")
    return unit


def _assignable_unit(s: Session, code: str) -> Unit:
    """A unit a user may be put in: it exists and is active."""
    unit = _unit_row(s, code)
    if not unit.active:
        raise InvalidInput(f"单位 {unit.code}（{unit.name}）已停用，不能把用户分配到该单位")
    return unit


def _active_admins(s: Session) -> int:
    s.flush()
    return int(
        s.exec(select(func.count()).select_from(User).where(User.role == "admin", col(User.active))).one()
    )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(
            f"未知的角色：{role}（可选：{'、'.join(f'{r}({ROLE_LABELS[r]})' for r in ROLES)}）"
        )


def _user_fields(s: Session, user: User) -> dict[str, Any]:
    unit = s.get(Unit, user.unit_id) if user.unit_id is not None else None
    return {"role": user.role, "unit": unit.code if unit else None, "display_name": user.display_name}


def change_user(
    ctx: Ctx,
    name: str,
    *,
    role: str | None = None,
    unit_code: str | None = None,
    display_name: str | None = None,
) -> dict[str, Any]:
    """Change a user's role, unit or display name. ``None`` leaves a field as it is; ``unit_code=""``
    takes the user out of their unit. Returns ``{"user", "before", "after"}`` of the changed fields."""
    require_role(ctx, "admin", what="修改用户")
    if role is not None:
        role = role.strip()
        _check_role(role)
    if display_name is not None:
        display_name = clean_text(display_name, field="姓名", max_len=64)
    with ctx.write() as s:
        user = _user_row(s, name)
        before = _user_fields(s, user)
        if role is not None and role != user.role:
            if user.id is not None and user.id == ctx.actor.id:
                raise PermissionDenied("不能修改自己的角色，请由其他系统管理员操作")
            user.role = role
        if unit_code is not None:
            code = unit_code.strip()
            if not code:
                user.unit_id = None
            elif code != before["unit"]:
                user.unit_id = _assignable_unit(s, code).id
        if display_name is not None:
            user.display_name = display_name or user.name
        if user.role == "liaison" and user.unit_id is None:
            raise InvalidInput("承办单位联络员必须指定所属单位")
        after = _user_fields(s, user)
        changed = [k for k in before if before[k] != after[k]]
        if not changed:
            raise InvalidInput(f"用户 {user.name} 没有需要保存的修改")
        s.add(user)
        if before["role"] == "admin" and user.role != "admin" and user.active and _active_admins(s) == 0:
            raise InvalidInput("不能取消最后一个启用的系统管理员的管理员角色，否则无人能管理用户和单位")
        payload = {
            "user": user.name,
            "before": {k: before[k] for k in changed},
            "after": {k: after[k] for k in changed},
        }
        record_event(ctx, s, "user_changed", payload=payload)
    return payload


def deactivate_user(ctx: Ctx, name: str) -> None:
    """An inactive user cannot log in; their history stays."""
    require_role(ctx, "admin", what="停用用户")
    with ctx.write() as s:
        user = _user_row(s, name)
        if user.id is not None and user.id == ctx.actor.id:
            raise PermissionDenied("不能停用自己的账户，请由其他系统管理员操作")
        if not user.active:
            raise InvalidInput(f"用户 {user.name} 已是停用状态")
        user.active = False
        s.add(user)
        if user.role == "admin" and _active_admins(s) == 0:
            raise InvalidInput("不能停用最后一个启用的系统管理员，否则无人能管理用户和单位")
        record_event(ctx, s, "user_deactivated", payload={"user": user.name, "role": user.role})


def reactivate_user(ctx: Ctx, name: str) -> None:
    require_role(ctx, "admin", what="启用用户")
    with ctx.write() as s:
        user = _user_row(s, name)
        if user.active:
            raise InvalidInput(f"用户 {user.name} 已是启用状态")
        if user.unit_id is not None:
            unit = s.get(Unit, user.unit_id)
            if unit is not None and not unit.active:
                raise InvalidInput(
                    f"用户 {user.name} 所属单位 {unit.code}（{unit.name}）已停用：请先启用该单位，或为其更换单位"
                )
        user.active = True
        s.add(user)
        record_event(ctx, s, "user_reactivated", payload={"user": user.name, "role": user.role})


def reset_password(ctx: Ctx, name: str, password: str) -> None:
    """The admin sets a new password for a user; it also clears a lock and the failure count."""
    require_role(ctx, "admin", what="重置密码")
    validate_password(password or "")
    with ctx.write() as s:
        user = _user_row(s, name)
        locked = user.locked_until is not None and local(user.locked_until) > ctx.now()
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        s.add(user)
        record_event(ctx, s, "password_reset", payload={"user": user.name, "unlocked": locked})


def unlock_account(ctx: Ctx, name: str) -> None:
    """Lift a lock set by repeated wrong passwords before it runs out."""
    require_role(ctx, "admin", what="解锁账户")
    with ctx.write() as s:
        user = _user_row(s, name)
        if user.locked_until is None or local(user.locked_until) <= ctx.now():
            raise InvalidInput(f"账户 {user.name} 当前未被锁定，无需解锁")
        payload = {"user": user.name, "failed_logins": user.failed_logins, "locked_until": user.locked_until}
        user.locked_until = None
        user.failed_logins = 0
        s.add(user)
        record_event(ctx, s, "account_unlocked", payload=payload)


# ---------------------------------------------------------------- units: one at a time


def parse_keywords(value: str | Iterable[str]) -> list[str]:
    """Dispatch-suggestion words from ``路灯, 占道 垃圾、环卫`` (or a list): trimmed, in order, without
    repeats; each 1–20 characters, at most 50."""
    parts = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        for word in KEYWORD_SPLIT_RE.split(clean_text(str(part), field="关键词", max_len=10_000)):
            word = word.strip()
            if not word or word in out:
                continue
            if len(word) > KEYWORD_MAX_LEN:
                raise InvalidInput(f"关键词“{word}”过长：{len(word)}字，每个关键词最多{KEYWORD_MAX_LEN}字")
            out.append(word)
    if len(out) > KEYWORDS_MAX:
        raise InvalidInput(f"关键词过多：{len(out)}个，最多{KEYWORDS_MAX}个")
    return out


def _check_kind(kind: str) -> str:
    kind = (kind or "").strip()
    if kind not in UNIT_KINDS:
        choices = "、".join(f"{k}({UNIT_KIND_LABELS.get(k, k)})" for k in UNIT_KINDS)
        raise InvalidInput(f"未知的单位类型：{kind or '（空）'}（可选：{choices}）")
    return kind


def _check_unit_name(s: Session, name: str, unit_id: int | None = None) -> str:
    name = clean_text(name, field="单位名称", max_len=120, required=True)
    same = s.exec(select(Unit).where(Unit.name == name)).first()
    if same is not None and same.id != unit_id:
        raise InvalidInput(f"已有同名单位：{name}（代码 {same.code}）")
    return name


def _unit_dict(s: Session, unit: Unit) -> dict[str, Any]:
    parent = s.get(Unit, unit.parent_id) if unit.parent_id is not None else None
    return {
        "code": unit.code,
        "name": unit.name,
        "kind": unit.kind,
        "kind_label": UNIT_KIND_LABELS.get(unit.kind, unit.kind),
        "parent": parent.code if parent else None,
        "keywords": list(unit.keywords),
        "active": unit.active,
    }


def add_unit(
    ctx: Ctx,
    code: str,
    name: str,
    kind: str,
    parent: str | None = None,
    keywords: str | Iterable[str] = (),
) -> dict[str, Any]:
    """A new unit, at the top level or under an active ``parent`` (a unit code)."""
    require_role(ctx, "admin", what="新增单位")
    code = (code or "").strip()
    if not UNIT_CODE_RE.fullmatch(code):
        raise InvalidInput(
            "单位代码须由字母、数字和 - _ . 组成，以字母或数字开头，最多40个字符，例如 HX-CG"
            + (f"（填写的是“{code}”）" if code else "")
        )
    kind = _check_kind(kind)
    words = parse_keywords(keywords)
    with ctx.write() as s:
        existing = s.exec(select(Unit).where(Unit.code == code)).first()
        if existing is not None:
            raise InvalidInput(f"单位代码已存在：{code}（{existing.name}）")
        name = _check_unit_name(s, name)
        parent_id = None
        if parent is not None and parent.strip():
            up = _unit_row(s, parent, what="上级单位")
            if not up.active:
                raise InvalidInput(f"上级单位 {up.code}（{up.name}）已停用，不能在其下新增单位")
            parent_id = up.id
        unit = Unit(code=code, name=name, kind=kind, parent_id=parent_id, keywords=words)
        s.add(unit)
        s.flush()
        row = _unit_dict(s, unit)
        record_event(
            ctx,
            s,
            "unit_added",
            payload={k: row[k] for k in ("code", "name", "kind", "parent", "keywords")},
        )
    return row


def change_unit(
    ctx: Ctx,
    code: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    keywords: str | Iterable[str] | None = None,
) -> dict[str, Any]:
    """Rename a unit, change its kind or its dispatch keywords (``None``: unchanged).
    Returns ``{"code", "before", "after"}`` of the changed fields."""
    require_role(ctx, "admin", what="修改单位")
    if kind is not None:
        kind = _check_kind(kind)
    words = parse_keywords(keywords) if keywords is not None else None
    with ctx.write() as s:
        unit = _unit_row(s, code)
        before = {"name": unit.name, "kind": unit.kind, "keywords": list(unit.keywords)}
        if name is not None:
            unit.name = _check_unit_name(s, name, unit.id)
        if kind is not None:
            unit.kind = kind
        if words is not None:
            unit.keywords = words
        after = {"name": unit.name, "kind": unit.kind, "keywords": list(unit.keywords)}
        changed = [k for k in before if before[k] != after[k]]
        if not changed:
            raise InvalidInput(f"单位 {unit.code} 没有需要保存的修改")
        s.add(unit)
        payload = {
            "code": unit.code,
            "before": {k: before[k] for k in changed},
            "after": {k: after[k] for k in changed},
        }
        record_event(ctx, s, "unit_changed", payload=payload)
    return payload


def move_unit(ctx: Ctx, code: str, parent: str | None) -> dict[str, Any]:
    """Put a unit (with its sub-units) under another parent; ``None`` or "" makes it a top-level unit.

    Liaison officers' unit scope is computed at login, so the move applies to them at their next login.
    """
    require_role(ctx, "admin", what="移动单位")
    with ctx.write() as s:
        unit = _unit_row(s, code)
        assert unit.id is not None
        new_parent: Unit | None = None
        if parent is not None and parent.strip():
            new_parent = _unit_row(s, parent, what="上级单位")
            if new_parent.id == unit.id:
                raise InvalidInput(f"不能把单位 {unit.code} 移到它自己之下")
            if new_parent.id in unit_subtree(s, unit.id):
                raise InvalidInput(
                    f"不能把单位 {unit.code} 移到它的下级单位 {new_parent.code} 之下（单位层级会形成循环）"
                )
            if unit.active and not new_parent.active:
                raise InvalidInput(
                    f"上级单位 {new_parent.code}（{new_parent.name}）已停用，不能把启用的单位移入其下"
                )
        new_id = new_parent.id if new_parent else None
        if new_id == unit.parent_id:
            where = f"{new_parent.code} 之下" if new_parent else "顶级"
            raise InvalidInput(f"单位 {unit.code} 已在{where}，无需移动")
        old_parent = s.get(Unit, unit.parent_id) if unit.parent_id is not None else None
        unit.parent_id = new_id
        s.add(unit)
        payload = {
            "code": unit.code,
            "before": {"parent": old_parent.code if old_parent else None},
            "after": {"parent": new_parent.code if new_parent else None},
        }
        record_event(ctx, s, "unit_moved", payload=payload)
    return payload


def deactivate_unit(ctx: Ctx, code: str) -> dict[str, Any]:
    """An inactive unit receives no orders and no new users. Refused while it still has live orders or
    active sub-units. Returns ``{"code", "users"}``: its active user accounts, which stay as they are."""
    require_role(ctx, "admin", what="停用单位")
    with ctx.write() as s:
        unit = _unit_row(s, code)
        if not unit.active:
            raise InvalidInput(f"单位 {unit.code} 已是停用状态")
        live = int(
            s.exec(
                select(func.count())
                .select_from(Assignment)
                .where(Assignment.unit_id == unit.id, col(Assignment.status).in_(ACTIVE_ASSIGNMENT))
            ).one()
        )
        if live:
            raise InvalidInput(
                f"单位 {unit.code}（{unit.name}）还有 {live} 条未办结的派单（待接单、办理中或已答复待审核），"
                "办结或改派后才能停用"
            )
        children = list(
            s.exec(
                select(Unit.code).where(Unit.parent_id == unit.id, col(Unit.active)).order_by(col(Unit.code))
            )
        )
        if children:
            listed = "、".join(children[:5]) + ("等" if len(children) > 5 else "")
            raise InvalidInput(
                f"单位 {unit.code} 还有 {len(children)} 个启用的下级单位（{listed}），请先停用或移走下级单位"
            )
        users = int(
            s.exec(
                select(func.count()).select_from(User).where(User.unit_id == unit.id, col(User.active))
            ).one()
        )
        unit.active = False
        s.add(unit)
        record_event(
            ctx, s, "unit_deactivated", payload={"code": unit.code, "name": unit.name, "users": users}
        )
    return {"code": unit.code, "users": users}


def reactivate_unit(ctx: Ctx, code: str) -> None:
    require_role(ctx, "admin", what="启用单位")
    with ctx.write() as s:
        unit = _unit_row(s, code)
        if unit.active:
            raise InvalidInput(f"单位 {unit.code} 已是启用状态")
        parent = s.get(Unit, unit.parent_id) if unit.parent_id is not None else None
        if parent is not None and not parent.active:
            raise InvalidInput(f"上级单位 {parent.code}（{parent.name}）已停用，请先启用上级单位")
        unit.active = True
        s.add(unit)
        record_event(ctx, s, "unit_reactivated", payload={"code": unit.code, "name": unit.name})


# ---------------------------------------------------------------- policy profile


START_RULE_LABELS = {
    "same_time": "自受理时刻起算（工作日按24小时计）",
    "next_day": "自收到次日起算（截至第N个工作日23:59:59）",
}


def policy_summary(name: str) -> dict[str, Any]:
    """The key numbers of a profile: what ``hotline policy show`` prints, plus Chinese labels."""
    p = load_policy(name)

    def labels(codes: frozenset[str] | None, table: dict[str, str]) -> str:
        if not codes:
            return "全部"
        ordered = [c for c in table if c in codes] + sorted(c for c in codes if c not in table)
        return "、".join(table.get(c, c) for c in ordered)

    return {
        "name": p.name,
        "title": p.title,
        "regulation": p.regulation,
        "available": available(),
        "deadlines": [
            {
                "channels": sorted(r.channels) if r.channels else "全部",
                "types": sorted(r.types) if r.types else "全部",
                "urgencies": sorted(r.urgencies) if r.urgencies else "全部",
                "period": r.period.label(),
                "cite": r.cite,
                "channels_label": labels(r.channels, p.channels),
                "types_label": labels(r.types, p.types),
                "urgencies_label": labels(r.urgencies, p.urgencies),
            }
            for r in p.deadline_rules
        ],
        "wd_start": p.wd_start,
        "wd_start_label": START_RULE_LABELS.get(p.wd_start, p.wd_start),
        "accept_limit": p.accept_limit.label() if p.accept_limit else None,
        "return_window": p.return_window.label(),
        "return_window_complex": p.return_window_complex.label() if p.return_window_complex else None,
        "designation_after": p.designation_after,
        "extension_enabled": p.extension.enabled,
        "extension_max": p.extension.max_count,
        "extension_lead": p.extension.lead.label() if p.extension.lead else None,
        "rehandle_max": p.callback.rehandle_max,
        "unit_groups": [
            {
                "name": g.name,
                "units": sorted(g.units),
                "return_window": g.return_window.label() if g.return_window else None,
                "accept_limit": g.accept_limit.label() if g.accept_limit else None,
                "cite": g.cite,
            }
            for g in p.unit_groups
        ],
    }


def _stored_policy(s: Session) -> str:
    row = s.get(Setting, "policy")
    return row.value if row is not None and row.value else DEFAULT_POLICY


def list_policies(ctx: Ctx) -> list[dict[str, Any]]:
    """The shipped profiles with their key numbers; ``active`` marks the store's profile."""
    require_role(ctx, "admin", what="查看策略配置")
    with ctx.read() as s:
        active = _stored_policy(s)
    names = available()
    if active not in names:
        names.append(active)  # a profile file given by path
    out = []
    for name in names:
        try:
            summary = policy_summary(name)
        except PolicyError as exc:
            summary = {"name": name, "title": name, "regulation": "", "error": exc.message}
        out.append({**summary, "active": name == active})
    return out


def set_policy(ctx: Ctx, name: str) -> Policy:
    """Make ``name`` the store's profile. This session uses it at once; others at their next login."""
    require_role(ctx, "admin", what="切换策略配置")
    name = (name or "").strip()
    if not name:
        raise InvalidInput("请选择要启用的策略配置")
    try:
        policy = load_policy(name)
    except PolicyError as exc:
        raise InvalidInput(exc.message) from None
    with ctx.write() as s:
        row = s.exec(select(Setting).where(Setting.key == "policy").with_for_update()).first()
        before = row.value if row is not None and row.value else DEFAULT_POLICY
        if before == name:
            raise InvalidInput(f"「{policy.title}」已是当前的策略配置")
        row = row or Setting(key="policy")
        row.value = name
        s.add(row)
        record_event(ctx, s, "policy_changed", payload={"before": before, "after": name})
    ctx.policy = policy
    return policy
