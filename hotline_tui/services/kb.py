"""The knowledge base (知识库): entries, versions and their review, import/export, search log, upkeep, reports.

- T24 20: one authoritative KB, updated in real time, with a detailed catalogue; units keep their own
  entries true (T24 20 para. 2; TA 8(4)); an untimely KB is a supervision matter (T24 22(5)).
- TA 7(3): district centres review the KB of their area. A change by an editor of an ordinary unit is
  stored as a ``pending`` ``KBVersion``; agents keep seeing the last approved version (``KBEntry``) until
  a centre/district editor or a supervisor approves it. A centre/district editor's change publishes at once.
- TTR 29 / T24 21: a new policy's interpretation goes in at least one day before it takes effect; an
  entry may carry a future ``valid_from`` (即将生效), and entering it later than that is warned about.
- TTR 31: the monthly KB report is filed on the 1st-5th for the previous month, even with no change; a
  last day that is not a working day is not postponed (file earlier).

Every change writes its rows and exactly one event in one transaction; search-log rows are not business
changes and write no event. Event payloads carry entry ids, versions and unit codes, never personal data.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import Enum
from pathlib import PurePath
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from hotline_tui import search
from hotline_tui.clock import TZ, local
from hotline_tui.errors import InvalidInput, NotFound, PermissionDenied, RuleViolation
from hotline_tui.models import KBEntry, KBSearchLog, KBVersion, Ticket, Unit, User
from hotline_tui.services.core import Ctx, record_event, require_role, unit_subtree, unwanted_char
from hotline_tui.workdays import WorkCalendar

EDIT_ROLES = ("kb_editor",)
REVIEW_ROLES = ("kb_editor", "supervisor")
IMPORT_ROLES = ("admin", "kb_editor")
REPORT_ROLES = ("kb_editor", "supervisor", "admin")
# units whose KB editors review and publish directly (TA 7(3): the centre and the district centres)
REVIEWING_KINDS = ("centre", "district", "sub_centre")

MAX_ID = 64
MAX_TITLE = 255
MAX_BODY = 20000
MAX_KEYWORDS = 30
MAX_KEYWORD = 40
MAX_CATEGORY = 255
MAX_CATEGORY_DEPTH = 8
MAX_SOURCE = 255
MAX_QUERY = 200
MAX_IMPORT_ERRORS = 20
DEFAULT_STALE_DAYS = 180
NEW_POLICY_DAYS = 30  # a valid_from further back than this is an old policy, not one "about to be published"

CITE_REVIEW = "泰安办法第七条第（三）项"
CITE_LEAD = "天津交通运输委规程第二十九条"
CITE_REPORT = "天津交通运输委规程第三十一条"
CITE_UPKEEP = "天津办法第二十条、第二十二条第（五）项"

_ID_RE = re.compile(r"^[^\s]{1,64}$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_KEYWORD_SPLIT = re.compile(r"[,，、;；\s]+")
_CATEGORY_SPLIT = re.compile(r"\s*[/／>＞]\s*")
_DIGITS_RE = re.compile(r"\d{6,}[\dXx]?")  # phone or ID numbers typed into the search box
IMPORT_KEYS = ("id", "title", "body", "keywords", "unit", "category", "valid_from", "valid_to", "source")


class _Unchanged(Enum):
    TOKEN = 0


UNCHANGED = _Unchanged.TOKEN
"""Default of :func:`edit_entry` arguments: keep the field as it is."""


# ---------------------------------------------------------------- content and validation


@dataclass(frozen=True)
class EntryData:
    """The content of one version of an entry, validated."""

    title: str
    body: str
    keywords: tuple[str, ...] = ()
    category: str = ""
    unit_id: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = ""

    @classmethod
    def of(cls, row: KBEntry | KBVersion) -> EntryData:
        return cls(
            row.title,
            row.body,
            tuple(row.keywords or ()),
            row.category,
            row.unit_id,
            row.valid_from,
            row.valid_to,
            row.source,
        )

    def apply(self, row: KBEntry | KBVersion) -> None:
        row.title = self.title
        row.body = self.body
        row.keywords = list(self.keywords)
        row.category = self.category
        row.unit_id = self.unit_id
        row.valid_from = self.valid_from
        row.valid_to = self.valid_to
        row.source = self.source

    def version_row(self, entry_id: str, version: int, changed_at: datetime, **kw: Any) -> KBVersion:
        return KBVersion(
            entry_id=entry_id,
            version=version,
            title=self.title,
            body=self.body,
            keywords=list(self.keywords),
            category=self.category,
            unit_id=self.unit_id,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            source=self.source,
            changed_at=changed_at,
            **kw,
        )

    def changed_fields(self, other: EntryData) -> list[str]:
        names = ("title", "body", "keywords", "category", "unit_id", "valid_from", "valid_to", "source")
        return [n.removesuffix("_id") for n in names if getattr(self, n) != getattr(other, n)]


@dataclass(frozen=True)
class KBChange:
    """What a change did: ``status`` is ``published`` (agents see it now), ``pending`` (waits for review),
    ``rejected``, ``withdrawn`` or ``unchanged`` (nothing to do, nothing written)."""

    entry_id: str
    version: int | None
    status: str
    warnings: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry_id,
            "version": self.version,
            "status": self.status,
            "fields": list(self.fields),
            "warnings": list(self.warnings),
        }


def _check_chars(text: str, field_name: str, *, multiline: bool) -> None:
    for ch in text:
        o = ord(ch)
        allowed_ws = multiline and ch in "\n\t"
        if 0xD800 <= o <= 0xDFFF:
            raise InvalidInput(f"{field_name}含有无效的字符 U+{o:04X}（不成对的代理码位），请删除后重试")
        if ((unwanted_char(ch) or ch in "\n\t") and not allowed_ws) or ch in "\u2028\u2029":
            if ch == "\n":
                raise InvalidInput(f"{field_name}不能换行")
            raise InvalidInput(f"{field_name}含有不可见的控制字符 U+{o:04X}，请删除后重试")


def valid_text(
    value: object, field_name: str, max_len: int, *, required: bool = False, multiline: bool = False
) -> str:
    """A text field: control characters are refused (not silently dropped), the length is enforced."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field_name}必须是文本")
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").strip()
    _check_chars(text, field_name, multiline=multiline)
    if required and not text:
        raise InvalidInput(f"{field_name}不能为空")
    if len(text) > max_len:
        raise InvalidInput(f"{field_name}过长：{len(text)}字，最多{max_len}字")
    return text


def valid_entry_id(value: object) -> str:
    text = valid_text(value, "条目编号", MAX_ID, required=True)
    if not _ID_RE.match(text):
        raise InvalidInput(f"条目编号不能包含空格：{text!r}")
    return text


def valid_keywords(value: object) -> tuple[str, ...]:
    """A list of keywords, or one string separated by commas, 、 or spaces."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = [k for k in _KEYWORD_SPLIT.split(value) if k]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise InvalidInput("关键词必须是文本列表")
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidInput("关键词必须是文本列表")
        kw = valid_text(item, "关键词", MAX_KEYWORD)
        if kw and kw not in out:
            out.append(kw)
    if len(out) > MAX_KEYWORDS:
        raise InvalidInput(f"关键词过多：{len(out)}个，最多{MAX_KEYWORDS}个")
    return tuple(out)


def valid_category(value: object) -> str:
    """A catalogue path such as ``社会保障/社保卡`` (levels separated by ``/``)."""
    text = valid_text(value, "目录分类", MAX_CATEGORY)
    parts = [p for p in _CATEGORY_SPLIT.split(text) if p]
    if len(parts) > MAX_CATEGORY_DEPTH:
        raise InvalidInput(f"目录分类层级过深：{len(parts)}级，最多{MAX_CATEGORY_DEPTH}级")
    return "/".join(parts)


def valid_date(value: object, field_name: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return local(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        raw = value.strip()
        try:
            if len(raw) != 10:
                raise ValueError
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"{field_name}格式不正确：{value!r}，应为 YYYY-MM-DD") from None
    raise InvalidInput(f"{field_name}格式不正确：{value!r}，应为 YYYY-MM-DD")


def check_validity(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise InvalidInput(f"失效日期 {valid_to} 早于生效日期 {valid_from}")


def _unit_codes(s: Session) -> dict[str, Unit]:
    return {u.code: u for u in s.exec(select(Unit).order_by(col(Unit.code)))}


def _unknown_unit(code: str, units: dict[str, Unit]) -> InvalidInput:
    return InvalidInput(f"未知的单位代码：{code}；可用的单位代码：{'、'.join(sorted(units))}")


def _resolve_unit(s: Session, value: object) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("归属单位必须是单位代码")
    code = value.strip()
    units = _unit_codes(s)
    unit = units.get(code)
    if unit is None:
        unit = next((u for u in units.values() if u.name == code), None)
    if unit is None:
        raise _unknown_unit(code, units)
    return unit.id


def _unit_code(s: Session, unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    unit = s.get(Unit, unit_id)
    return unit.code if unit is not None else None


# ---------------------------------------------------------------- who may do what


@dataclass(frozen=True)
class _Scope:
    """The owner units an editor or reviewer acts for; ``publishes``: changes go live without review."""

    all_units: bool
    units: frozenset[int]
    publishes: bool

    def covers(self, unit_id: int | None) -> bool:
        return self.all_units or (unit_id is not None and unit_id in self.units)


def _scope(ctx: Ctx, s: Session) -> _Scope:
    """Centre staff (no unit, or a unit of kind ``centre``) act for every unit; a district/sub-centre
    editor for the district's subtree and publishes directly; any other unit's editor for its subtree,
    with review (TA 7(3))."""
    unit_id = ctx.actor.unit_id
    if unit_id is None:
        return _Scope(True, frozenset(), True)
    unit = s.get(Unit, unit_id)
    if unit is None:
        raise PermissionDenied("您所在的单位已不存在，无法维护知识库")
    if unit.kind == "centre":
        return _Scope(True, frozenset(), True)
    return _Scope(False, unit_subtree(s, unit_id), unit.kind in REVIEWING_KINDS)


def _require_scope(scope: _Scope, *unit_ids: int | None, what: str) -> None:
    for unit_id in unit_ids:
        if not scope.covers(unit_id):
            raise PermissionDenied(f"该条目不属于您所在单位（或下属单位），无权{what}")


# ---------------------------------------------------------------- versions


def _lock_entry(s: Session, entry_id: str) -> KBEntry:
    entry = s.exec(select(KBEntry).where(KBEntry.id == entry_id.strip()).with_for_update()).first()
    if entry is None:
        raise NotFound(f"知识库条目不存在：{entry_id}")
    return entry


def _versions(s: Session, entry_id: str) -> list[KBVersion]:
    return list(
        s.exec(select(KBVersion).where(KBVersion.entry_id == entry_id).order_by(col(KBVersion.version)))
    )


def _ensure_baseline(s: Session, entry: KBEntry) -> int:
    """Entries written before versions existed (demo rows) get their current state as a first version.
    Returns the highest version number of the entry."""
    top = s.exec(select(func.max(KBVersion.version)).where(KBVersion.entry_id == entry.id)).one()
    if top is not None:
        return max(int(top), entry.version)
    base = EntryData.of(entry).version_row(
        entry.id,
        entry.version,
        entry.updated_at,
        status="published" if entry.status == "published" else "superseded",
        change="create" if entry.status != "withdrawn" else "withdraw",
        changed_by=entry.updated_by,
        reviewed_at=entry.reviewed_at,
    )
    s.add(base)
    s.flush()
    return entry.version


def _publish(ctx: Ctx, s: Session, entry: KBEntry, version: KBVersion, *, reviewed: bool) -> None:
    """Make ``version`` what agents see: supersede the previous published version, update the entry,
    (re)index or drop it from search."""
    for old in s.exec(
        select(KBVersion).where(
            KBVersion.entry_id == entry.id, KBVersion.status == "published", col(KBVersion.id) != version.id
        )
    ):
        old.status = "superseded"
        s.add(old)
    version.status = "published"
    s.add(version)
    _set_live(ctx, entry, version, reviewed=reviewed)
    s.add(entry)
    s.flush()
    if entry.status == "withdrawn":
        search.remove_entry(s, entry.id)
    else:
        search.index_entry(s, entry)


def _set_live(ctx: Ctx, entry: KBEntry, version: KBVersion, *, reviewed: bool) -> None:
    """The entry row takes the content of ``version`` (no database access)."""
    EntryData.of(version).apply(entry)
    entry.version = version.version
    entry.updated_at = ctx.now()
    entry.updated_by = version.changed_by
    if reviewed:
        entry.reviewed_at = ctx.now()
    entry.status = "withdrawn" if version.change == "withdraw" else "published"


def _lead_warning(ctx: Ctx, data: EntryData, previous: EntryData | None) -> tuple[str, ...]:
    """TTR 29 (T24 21): an interpretation of a policy about to take effect goes in at least a day ahead.
    Warned (never refused) when a new or changed ``valid_from`` is less than the lead time away."""
    if data.valid_from is None or (previous is not None and previous.valid_from == data.valid_from):
        return ()
    lead = int(ctx.policy.extra.get("kb", {}).get("interpretation_lead_days", 1))
    today = ctx.now().date()
    days = (data.valid_from - today).days
    if days >= lead or days < -NEW_POLICY_DAYS:
        return ()
    when = "今日生效" if days == 0 else ("已于" + str(data.valid_from) + "生效" if days < 0 else "明日生效")
    return (
        f"该政策{when}（{data.valid_from}），录入时间距生效不足{lead}日：拟发布的政策及解读应于正式发布前"
        f"至少{lead}日在热线平台更新（{CITE_LEAD}）",
    )


def _add_version(
    ctx: Ctx, s: Session, entry: KBEntry, data: EntryData, change: str, number: int, status: str
) -> KBVersion:
    row = data.version_row(entry.id, number, ctx.now(), status=status, change=change, changed_by=ctx.actor.id)
    s.add(row)
    s.flush()
    return row


def _event_payload(s: Session, entry_id: str, version: KBVersion, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "entry": entry_id,
        "version": version.version,
        "status": version.status,
        "change": version.change,
        "unit": _unit_code(s, version.unit_id),
    }
    payload.update(extra)
    return payload


def _supersede_pending(s: Session, entry_id: str, note: str) -> None:
    for old in s.exec(select(KBVersion).where(KBVersion.entry_id == entry_id, KBVersion.status == "pending")):
        old.status = "superseded"
        old.review_note = note
        s.add(old)


def _new_entry_id(s: Session, now: datetime) -> str:
    prefix = f"KB-{now:%Y%m%d}-"
    taken = set(s.exec(select(KBEntry.id).where(col(KBEntry.id).startswith(prefix))).all())
    n = len(taken) + 1
    while f"{prefix}{n:03d}" in taken:
        n += 1
    return f"{prefix}{n:03d}"


# ---------------------------------------------------------------- create, edit, review, withdraw


def create_entry(
    ctx: Ctx,
    *,
    title: str,
    body: str,
    keywords: Sequence[str] | str = (),
    category: str = "",
    unit: str | None = None,
    valid_from: date | str | None = None,
    valid_to: date | str | None = None,
    source: str = "",
    entry_id: str | None = None,
) -> KBChange:
    """A new entry. ``unit`` (code) defaults to the editor's own unit. A unit editor's entry waits for
    review (TA 7(3)); a centre/district editor's is published at once."""
    require_role(ctx, *EDIT_ROLES, what="新增知识库条目")
    eid = valid_entry_id(entry_id) if entry_id is not None and entry_id.strip() else None
    with ctx.write() as s:
        scope = _scope(ctx, s)
        unit_id = _resolve_unit(s, unit) if unit else ctx.actor.unit_id
        data = _validate(title, body, keywords, category, unit_id, valid_from, valid_to, source)
        _require_scope(scope, data.unit_id, what="为该单位新增条目")
        if eid is None:
            eid = _new_entry_id(s, ctx.now())
        elif s.get(KBEntry, eid) is not None:
            raise InvalidInput(f"条目编号已存在：{eid}")
        status = "published" if scope.publishes else "pending"
        entry = KBEntry(id=eid, title=data.title, body=data.body, updated_at=ctx.now(), version=1)
        data.apply(entry)
        entry.status = "pending"
        entry.updated_by = ctx.actor.id
        s.add(entry)
        s.flush()
        version = _add_version(ctx, s, entry, data, "create", 1, "pending")
        if status == "published":
            _publish(ctx, s, entry, version, reviewed=True)
        record_event(ctx, s, "kb_created", payload=_event_payload(s, eid, version))
        return KBChange(eid, 1, status, _lead_warning(ctx, data, None))


def _validate(
    title: object,
    body: object,
    keywords: object,
    category: object,
    unit_id: int | None,
    valid_from: object,
    valid_to: object,
    source: object,
) -> EntryData:
    data = EntryData(
        title=valid_text(title, "标题", MAX_TITLE, required=True),
        body=valid_text(body, "正文", MAX_BODY, required=True, multiline=True),
        keywords=valid_keywords(keywords),
        category=valid_category(category),
        unit_id=unit_id,
        valid_from=valid_date(valid_from, "生效日期"),
        valid_to=valid_date(valid_to, "失效日期"),
        source=valid_text(source, "来源文件", MAX_SOURCE),
    )
    check_validity(data.valid_from, data.valid_to)
    return data


def edit_entry(
    ctx: Ctx,
    entry_id: str,
    *,
    title: str | _Unchanged = UNCHANGED,
    body: str | _Unchanged = UNCHANGED,
    keywords: Sequence[str] | str | _Unchanged = UNCHANGED,
    category: str | _Unchanged = UNCHANGED,
    unit: str | _Unchanged = UNCHANGED,
    valid_from: date | str | None | _Unchanged = UNCHANGED,
    valid_to: date | str | None | _Unchanged = UNCHANGED,
    source: str | _Unchanged = UNCHANGED,
    expected_version: int | None = None,
) -> KBChange:
    """Change an entry; fields not given stay as they are. A unit editor's change is stored as a pending
    version (agents keep the approved one, TA 7(3)); a further change by a unit replaces its own pending
    one. ``expected_version``: the published version the editor started from (refused if it moved)."""
    require_role(ctx, *EDIT_ROLES, what="修改知识库条目")
    with ctx.write() as s:
        entry = _lock_entry(s, entry_id)
        scope = _scope(ctx, s)
        _require_scope(scope, entry.unit_id, what="修改")
        if expected_version is not None and entry.version != expected_version:
            raise RuleViolation(
                f"知识库条目 {entry.id} 已被他人更新（现为第{entry.version}版），请刷新后重试（操作未生效）"
            )
        top = _ensure_baseline(s, entry)
        published = EntryData.of(entry)
        base = published
        pending = [v for v in _versions(s, entry.id) if v.status == "pending"]
        if not scope.publishes and pending:
            base = EntryData.of(pending[-1])
        unit_id = base.unit_id if isinstance(unit, _Unchanged) else _resolve_unit(s, unit)
        data = _validate(
            base.title if isinstance(title, _Unchanged) else title,
            base.body if isinstance(body, _Unchanged) else body,
            base.keywords if isinstance(keywords, _Unchanged) else keywords,
            base.category if isinstance(category, _Unchanged) else category,
            unit_id,
            base.valid_from if isinstance(valid_from, _Unchanged) else valid_from,
            base.valid_to if isinstance(valid_to, _Unchanged) else valid_to,
            base.source if isinstance(source, _Unchanged) else source,
        )
        _require_scope(scope, data.unit_id, what="将条目划归该单位")
        changed = data.changed_fields(base)
        if not changed and (entry.status == "published" or not scope.publishes):
            return KBChange(entry.id, entry.version, "unchanged")
        if scope.publishes:
            version = _add_version(ctx, s, entry, data, "edit", top + 1, "pending")
            _publish(ctx, s, entry, version, reviewed=True)
        else:
            _supersede_pending(s, entry.id, "已被本单位的新修改取代")
            version = _add_version(ctx, s, entry, data, "edit", top + 1, "pending")
        fields = tuple(data.changed_fields(published))
        record_event(ctx, s, "kb_changed", payload=_event_payload(s, entry.id, version, fields=list(fields)))
        return KBChange(
            entry.id, version.version, version.status, _lead_warning(ctx, data, published), fields
        )


def withdraw_entry(ctx: Ctx, entry_id: str, *, expected_version: int | None = None) -> KBChange:
    """Take an entry out of service (withdrawn; dropped from search). A unit editor's withdrawal waits for
    review like any other change (TA 7(3))."""
    require_role(ctx, *EDIT_ROLES, what="撤回知识库条目")
    with ctx.write() as s:
        entry = _lock_entry(s, entry_id)
        scope = _scope(ctx, s)
        _require_scope(scope, entry.unit_id, what="撤回")
        if expected_version is not None and entry.version != expected_version:
            raise RuleViolation(
                f"知识库条目 {entry.id} 已被他人更新（现为第{entry.version}版），请刷新后重试"
            )
        if entry.status != "published":
            raise RuleViolation(f"知识库条目 {entry.id} 当前未发布，无需撤回")
        top = _ensure_baseline(s, entry)
        data = EntryData.of(entry)
        if scope.publishes:
            version = _add_version(ctx, s, entry, data, "withdraw", top + 1, "pending")
            _publish(ctx, s, entry, version, reviewed=True)
        else:
            _supersede_pending(s, entry.id, "已被本单位的撤回申请取代")
            version = _add_version(ctx, s, entry, data, "withdraw", top + 1, "pending")
        record_event(ctx, s, "kb_withdrawn", payload=_event_payload(s, entry.id, version))
        status = "withdrawn" if version.status == "published" else "pending"
        return KBChange(entry.id, version.version, status)


def review_change(ctx: Ctx, version_id: int, approve: bool, note: str = "") -> KBChange:
    """Approve or reject a unit's pending change (TA 7(3)): centre or district KB editors (for units in
    their area) and supervisors. Approval publishes it; rejection leaves the entry as it was."""
    require_role(ctx, *REVIEW_ROLES, what="审核知识库修改")
    note = valid_text(note, "审核意见", 500, multiline=True)
    if not approve and not note:
        raise InvalidInput("退回知识库修改须填写审核意见（说明需要如何修改）")
    with ctx.write() as s:
        version = s.exec(select(KBVersion).where(KBVersion.id == version_id).with_for_update()).first()
        if version is None:
            raise NotFound(f"待审核的知识库修改不存在：{version_id}")
        entry = _lock_entry(s, version.entry_id)
        scope = _scope(ctx, s)
        if not scope.publishes:
            raise PermissionDenied(
                f"只有市热线中心、区热线工作机构的知识库维护人员或督办管理人员可以审核知识库修改（{CITE_REVIEW}）"
            )
        _require_scope(scope, entry.unit_id, version.unit_id, what="审核该条目的修改")
        if version.status != "pending":
            raise RuleViolation(
                f"该修改（{entry.id} 第{version.version}版）已处理，当前状态：{version.status}"
            )
        version.reviewed_at = ctx.now()
        version.reviewed_by = ctx.actor.id
        version.review_note = note
        warnings: tuple[str, ...] = ()
        if approve:
            newer = s.exec(
                select(func.max(KBVersion.version)).where(
                    KBVersion.entry_id == entry.id,
                    col(KBVersion.status).in_(("published", "superseded")),
                    col(KBVersion.version) > version.version,
                )
            ).one()
            if newer is not None:
                raise RuleViolation(
                    f"该修改提交后条目 {entry.id} 已更新为第{entry.version}版，不能直接通过；"
                    "请退回，由单位在最新版本上重新提交"
                )
            previous = EntryData.of(entry) if entry.status != "pending" else None
            _publish(ctx, s, entry, version, reviewed=True)
            warnings = _lead_warning(ctx, EntryData.of(version), previous)
            kind = "kb_review_approved"
            status = "withdrawn" if version.change == "withdraw" else "published"
        else:
            version.status = "rejected"
            s.add(version)
            if entry.status == "pending":
                entry.status = "rejected"  # a new entry that was never approved stays invisible
                s.add(entry)
            kind = "kb_review_rejected"
            status = "rejected"
        record_event(ctx, s, kind, payload=_event_payload(s, entry.id, version))
        return KBChange(entry.id, version.version, status, warnings)


def confirm_entry(ctx: Ctx, entry_id: str) -> None:
    """The owner unit confirms an entry is still accurate without changing it (resets staleness;
    T24 20 para. 2, TTR 29 “谁提供、谁维护”)."""
    require_role(ctx, *EDIT_ROLES, what="确认知识库条目")
    with ctx.write() as s:
        entry = _lock_entry(s, entry_id)
        _require_scope(_scope(ctx, s), entry.unit_id, what="确认")
        if entry.status != "published":
            raise RuleViolation(f"知识库条目 {entry.id} 当前未发布，不能确认")
        entry.reviewed_at = ctx.now()
        s.add(entry)
        record_event(
            ctx,
            s,
            "kb_confirmed",
            payload={"entry": entry.id, "version": entry.version, "unit": _unit_code(s, entry.unit_id)},
        )


# ---------------------------------------------------------------- reading


def _user_names(s: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = s.exec(select(User).where(col(User.id).in_(wanted)))
    return {u.id: u.display_name or u.name for u in rows if u.id is not None}


def _iso(value: datetime | None) -> str | None:
    return local(value).isoformat() if value is not None else None


def entry_json(s: Session, entry: KBEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "title": entry.title,
        "body": entry.body,
        "keywords": list(entry.keywords),
        "category": entry.category,
        "unit": _unit_code(s, entry.unit_id),
        "valid_from": entry.valid_from.isoformat() if entry.valid_from else None,
        "valid_to": entry.valid_to.isoformat() if entry.valid_to else None,
        "source": entry.source,
        "version": entry.version,
        "status": entry.status,
        "updated_at": _iso(entry.updated_at),
        "reviewed_at": _iso(entry.reviewed_at),
    }


def get_entry(ctx: Ctx, entry_id: str) -> dict[str, Any]:
    """The entry as agents see it, plus ``pending``: the ids of versions waiting for review. A new entry
    that was never approved exists only for KB editors, supervisors and admins."""
    with ctx.read() as s:
        entry = s.get(KBEntry, entry_id.strip())
        hidden = (
            entry is not None
            and entry.status in ("pending", "rejected")
            and ctx.actor.role not in REPORT_ROLES
        )
        if entry is None or hidden:  # a unit's new entry is not shown before it is approved (TA 7(3))
            raise NotFound(f"知识库条目不存在：{entry_id}")
        out = entry_json(s, entry)
        out["pending"] = [
            v.id
            for v in s.exec(
                select(KBVersion).where(KBVersion.entry_id == entry.id, KBVersion.status == "pending")
            )
        ]
        return out


def _version_lines(v: KBVersion, unit_code: str | None) -> list[str]:
    validity = f"{v.valid_from or '不限'} 至 {v.valid_to or '长期'}"
    head = [
        f"标题：{v.title}",
        f"分类：{v.category}",
        f"单位：{unit_code or ''}",
        f"关键词：{'、'.join(v.keywords)}",
        f"有效期：{validity}",
        f"来源：{v.source}",
        "正文：",
    ]
    if v.change == "withdraw":
        head.insert(0, "（撤回）")
    return head + v.body.splitlines()


def history(ctx: Ctx, entry_id: str) -> list[dict[str, Any]]:
    """Every version, oldest first, each with a unified line diff against the version before it.
    Roles other than KB editors, supervisors and admins see only versions that went live."""
    with ctx.read() as s:
        entry = s.get(KBEntry, entry_id.strip())
        if entry is None:
            raise NotFound(f"知识库条目不存在：{entry_id}")
        versions = _versions(s, entry.id)
        if not versions:  # an entry from before versions existed: its current state is version 1
            base = EntryData.of(entry).version_row(
                entry.id, entry.version, entry.updated_at, status="published", change="create"
            )
            base.changed_by = entry.updated_by
            versions = [base]
        if ctx.actor.role not in REPORT_ROLES:
            versions = [v for v in versions if v.status in ("published", "superseded")]
        names = _user_names(s, [v.changed_by for v in versions] + [v.reviewed_by for v in versions])
        units = {u.id: u.code for u in s.exec(select(Unit))}
        out: list[dict[str, Any]] = []
        prev: list[str] = []
        prev_label = "（无）"
        for v in versions:
            lines = _version_lines(v, units.get(v.unit_id) if v.unit_id else None)
            label = f"第{v.version}版"
            diff = list(
                difflib.unified_diff(prev, lines, fromfile=prev_label, tofile=label, lineterm="", n=1)
            )
            out.append(
                {
                    "id": v.id,
                    "version": v.version,
                    "status": v.status,
                    "change": v.change,
                    "title": v.title,
                    "unit": units.get(v.unit_id) if v.unit_id else None,
                    "valid_from": v.valid_from.isoformat() if v.valid_from else None,
                    "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                    "changed_at": _iso(v.changed_at),
                    "changed_by": names.get(v.changed_by) if v.changed_by else "系统",
                    "reviewed_at": _iso(v.reviewed_at),
                    "reviewed_by": names.get(v.reviewed_by) if v.reviewed_by else None,
                    "review_note": v.review_note,
                    "diff": diff,
                }
            )
            prev, prev_label = lines, label
        return out


def review_queue(ctx: Ctx) -> list[dict[str, Any]]:
    """Pending changes the actor may review, oldest first, each with its diff against what agents see."""
    require_role(ctx, *REVIEW_ROLES, what="查看知识库审核队列")
    with ctx.read() as s:
        scope = _scope(ctx, s)
        if not scope.publishes:
            raise PermissionDenied(
                f"只有市热线中心、区热线工作机构的知识库维护人员或督办管理人员可以审核（{CITE_REVIEW}）"
            )
        rows = list(
            s.exec(select(KBVersion).where(KBVersion.status == "pending").order_by(col(KBVersion.changed_at)))
        )
        units = {u.id: u.code for u in s.exec(select(Unit))}
        names = _user_names(s, [v.changed_by for v in rows])
        out = []
        for v in rows:
            entry = s.get(KBEntry, v.entry_id)
            if entry is None or not (scope.covers(entry.unit_id) and scope.covers(v.unit_id)):
                continue
            current = (
                _version_lines(_as_version(entry), units.get(entry.unit_id) if entry.unit_id else None)
                if entry.status in ("published", "withdrawn")
                else []
            )
            proposed = _version_lines(v, units.get(v.unit_id) if v.unit_id else None)
            out.append(
                {
                    "id": v.id,
                    "entry": v.entry_id,
                    "version": v.version,
                    "change": v.change,
                    "title": v.title,
                    "unit": units.get(v.unit_id) if v.unit_id else None,
                    "changed_at": _iso(v.changed_at),
                    "changed_by": names.get(v.changed_by) if v.changed_by else "系统",
                    "new_entry": entry.status not in ("published", "withdrawn"),
                    "diff": list(
                        difflib.unified_diff(
                            current, proposed, "现行版本", f"第{v.version}版", lineterm="", n=1
                        )
                    ),
                }
            )
        return out


def _as_version(entry: KBEntry) -> KBVersion:
    return EntryData.of(entry).version_row(entry.id, entry.version, entry.updated_at)


# ---------------------------------------------------------------- import / export (DESIGN.md format)


@dataclass
class _ImportLine:
    line: int
    id: str
    data: EntryData
    has_source: bool


def _parse_import(s: Session, text: str, origin: str) -> list[_ImportLine]:
    units = _unit_codes(s)
    errors: list[str] = []
    unknown: dict[str, list[int]] = {}
    seen: dict[str, int] = {}
    out: list[_ImportLine] = []
    for n, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{origin} 第{n}行"
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            errors.append(f"{where}：不是合法的 JSON（{exc.msg}，第{exc.colno}列）")
            continue
        if not isinstance(item, dict):
            errors.append(f'{where}：应为一个 JSON 对象 {{"id": ..., "title": ...}}')
            continue
        try:
            eid = valid_entry_id(item.get("id"))
            code = item.get("unit")
            unit_id: int | None = None
            if code is not None and code != "":
                if not isinstance(code, str):
                    raise InvalidInput("unit 必须是单位代码文本")
                unit = units.get(code.strip())
                if unit is None:
                    unknown.setdefault(code.strip(), []).append(n)
                else:
                    unit_id = unit.id
            data = _validate(
                item.get("title"),
                item.get("body"),
                item.get("keywords", []),
                item.get("category", ""),
                unit_id,
                item.get("valid_from"),
                item.get("valid_to"),
                item.get("source", ""),
            )
        except InvalidInput as exc:
            errors.append(f"{where}：{exc.message}")
            continue
        if eid in seen:
            errors.append(f"{where}：条目编号 {eid} 与第{seen[eid]}行重复")
            continue
        seen[eid] = n
        out.append(_ImportLine(n, eid, data, "source" in item))
    if unknown:
        listed = "；".join(
            f"{code}（第{'、'.join(str(x) for x in lines[:5])}{'等' if len(lines) > 5 else ''}行）"
            for code, lines in sorted(unknown.items())
        )
        errors.insert(0, f"{origin}：未知的单位代码：{listed}；可用的单位代码：{'、'.join(sorted(units))}")
    if errors:
        more = len(errors) - MAX_IMPORT_ERRORS
        shown = errors[:MAX_IMPORT_ERRORS] + ([f"……另有{more}处错误"] if more > 0 else [])
        raise InvalidInput("知识库导入失败，未导入任何条目：\n" + "\n".join(shown))
    if not out:
        raise InvalidInput(f"{origin}：没有任何条目（每行一个 JSON 对象）")
    return out


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def import_jsonl(ctx: Ctx, text: str, origin: str = "导入文件") -> dict[str, Any]:
    """Import JSON Lines (DESIGN.md): all lines are validated before anything is written; an unknown unit
    code or a malformed line imports nothing. New ids are created, known ids updated as a new version
    (change ``import``), identical lines left alone. Imports are the centre's own data: published at once.
    Returns ``{"created", "updated", "unchanged", "total"}``."""
    require_role(ctx, *IMPORT_ROLES, what="导入知识库")
    # the file's name goes into the event: only what a name may keep (a name is not refused for it)
    origin_name = "".join(ch for ch in PurePath(origin).name or origin if not unwanted_char(ch))[:MAX_SOURCE]
    created = updated = unchanged = 0
    with ctx.write() as s:
        if ctx.actor.role == "kb_editor" and not _scope(ctx, s).all_units:
            raise PermissionDenied("只有市热线中心的知识库维护人员或系统管理员可以批量导入知识库")
        lines = _parse_import(s, text, origin_name)
        ids = [x.id for x in lines]
        existing: dict[str, KBEntry] = {}
        tops: dict[str, int] = {}
        for chunk in _chunks(ids):
            for e in s.exec(select(KBEntry).where(col(KBEntry.id).in_(chunk)).with_for_update()):
                existing[e.id] = e
            for eid, top in s.exec(
                select(KBVersion.entry_id, func.max(KBVersion.version))
                .where(col(KBVersion.entry_id).in_(chunk))
                .group_by(col(KBVersion.entry_id))
            ).all():
                tops[eid] = int(top)
        now = ctx.now()
        live: list[tuple[KBEntry, KBVersion]] = []
        replaced: list[str] = []
        for item in lines:
            entry = existing.get(item.id)
            data = item.data
            if entry is None:
                entry = KBEntry(id=item.id, title=data.title, body=data.body, updated_at=now)
                s.add(entry)
                number = 1
                created += 1
            else:
                if not item.has_source:
                    data = replace(data, source=entry.source)
                if entry.status == "published" and not data.changed_fields(EntryData.of(entry)):
                    unchanged += 1
                    continue
                top = tops[item.id] if item.id in tops else _ensure_baseline(s, entry)
                number = max(top, entry.version) + 1
                replaced.append(entry.id)
                updated += 1
            version = data.version_row(
                entry.id, number, now, status="published", change="import", changed_by=ctx.actor.id
            )
            _set_live(ctx, entry, version, reviewed=True)
            live.append((entry, version))
        # bulk: supersede the versions being replaced, write entries, then versions, then index
        for chunk in _chunks(replaced):
            s.execute(
                update(KBVersion)
                .where(col(KBVersion.entry_id).in_(chunk), col(KBVersion.status) == "published")
                .values(status="superseded")
                .execution_options(synchronize_session=False)
            )
        s.flush()
        s.add_all([version for _, version in live])
        s.flush()
        for entry, _ in live:
            search.index_entry(s, entry)
        if created or updated:
            record_event(
                ctx,
                s,
                "kb_imported",
                payload={
                    "origin": origin_name,
                    "created": created,
                    "updated": updated,
                    "unchanged": unchanged,
                },
            )
    return {"created": created, "updated": updated, "unchanged": unchanged, "total": len(lines)}


def export_jsonl(ctx: Ctx, *, include_expired: bool = True) -> str:
    """Published entries as JSON Lines in the import format, ordered by id (re-importing changes nothing)."""
    today = ctx.now().date()
    with ctx.read() as s:
        units = {u.id: u.code for u in s.exec(select(Unit))}
        out = []
        for e in s.exec(select(KBEntry).where(KBEntry.status == "published").order_by(col(KBEntry.id))):
            if not include_expired and e.valid_to is not None and e.valid_to < today:
                continue
            row: dict[str, Any] = {
                "id": e.id,
                "title": e.title,
                "body": e.body,
                "keywords": list(e.keywords),
                "unit": units.get(e.unit_id) if e.unit_id else None,
                "category": e.category,
                "valid_from": e.valid_from.isoformat() if e.valid_from else None,
                "valid_to": e.valid_to.isoformat() if e.valid_to else None,
            }
            if e.source:
                row["source"] = e.source
            out.append(json.dumps(row, ensure_ascii=False))
    return "".join(line + "\n" for line in out)


# ---------------------------------------------------------------- search log, gaps, answers


def normalize_query(query: str) -> str:
    """The query as logged: control characters dropped, whitespace collapsed, digit runs that look like
    phone or ID numbers masked (a search log is no place for callers' personal data)."""
    text = "".join(" " if unwanted_char(ch) else ch for ch in query or "")
    text = " ".join(text.split())
    text = _DIGITS_RE.sub(lambda m: m.group(0)[:3] + "****", text)
    return text[:MAX_QUERY]


def log_search(
    ctx: Ctx, query: str, hits: int, top_entry: str | None = None, *, opened_entry: str | None = None
) -> None:
    """Record an agent's search (what was asked, how many hits, the first one). Not a business change:
    no event. Empty queries are not logged."""
    text = normalize_query(query)
    if not text:
        return
    with ctx.write() as s:
        s.add(
            KBSearchLog(
                at=ctx.now(),
                user_id=ctx.actor.id,
                query=text,
                hits=max(0, int(hits)),
                top_entry=top_entry[:MAX_ID] if top_entry else None,
                opened_entry=opened_entry[:MAX_ID] if opened_entry else None,
            )
        )


def _day_range(since: date, until: date) -> tuple[datetime, datetime]:
    if until < since:
        raise InvalidInput(f"结束日期 {until} 早于开始日期 {since}")
    return datetime.combine(since, time(0), TZ), datetime.combine(until + timedelta(days=1), time(0), TZ)


def search_gaps(ctx: Ctx, since: date, until: date, *, limit: int = 100) -> list[dict[str, Any]]:
    """Searches that found nothing between ``since`` and ``until`` (inclusive), grouped by query (case and
    spacing ignored), most frequent first: what the KB should learn next (T24 20)."""
    require_role(ctx, *REPORT_ROLES, what="查看知识库检索缺口")
    start, end = _day_range(since, until)
    with ctx.read() as s:
        rows = s.exec(
            select(KBSearchLog.query, KBSearchLog.at, KBSearchLog.user_id).where(
                KBSearchLog.hits == 0, col(KBSearchLog.at) >= start, col(KBSearchLog.at) < end
            )
        ).all()
    groups: dict[str, dict[str, Any]] = {}
    for query, at, user_id in rows:
        key = query.casefold()
        g = groups.setdefault(key, {"forms": Counter(), "count": 0, "users": set(), "last": at})
        g["forms"][query] += 1
        g["count"] += 1
        g["users"].add(user_id)
        g["last"] = max(g["last"], at)
    out = [
        {
            "query": g["forms"].most_common(1)[0][0],
            "count": g["count"],
            "agents": len(g["users"]),
            "last_at": _iso(g["last"]),
        }
        for g in groups.values()
    ]
    out.sort(key=lambda r: (-r["count"], r["query"]))
    return out[:limit]


def answered_by_entry(ctx: Ctx, since: date, until: date) -> list[dict[str, Any]]:
    """Per entry, the tickets answered on the spot citing it (closed between ``since`` and ``until``,
    inclusive), most used first."""
    require_role(ctx, *REPORT_ROLES, what="查看知识库答复统计")
    start, end = _day_range(since, until)
    with ctx.read() as s:
        counts = s.exec(
            select(Ticket.kb_entry_id, func.count())
            .where(
                col(Ticket.kb_entry_id).is_not(None),
                Ticket.status == "answered",
                col(Ticket.closed_at) >= start,
                col(Ticket.closed_at) < end,
            )
            .group_by(col(Ticket.kb_entry_id))
        ).all()
        units = {u.id: u.code for u in s.exec(select(Unit))}
        out = []
        for entry_id, n in counts:
            if entry_id is None:
                continue
            entry = s.get(KBEntry, entry_id)
            out.append(
                {
                    "entry": entry_id,
                    "title": entry.title if entry else "",
                    "unit": units.get(entry.unit_id) if entry and entry.unit_id else None,
                    "count": int(n),
                }
            )
    out.sort(key=lambda r: (-int(r["count"] or 0), str(r["entry"])))
    return out


# ---------------------------------------------------------------- upkeep and the monthly report


def stale_days_of(ctx: Ctx) -> int:
    value = ctx.policy.extra.get("supervision", {}).get("kb_stale_days", DEFAULT_STALE_DAYS)
    return int(value) if isinstance(value, int) and value > 0 else DEFAULT_STALE_DAYS


def _last_touched(entry: KBEntry) -> date:
    last = entry.updated_at
    if entry.reviewed_at is not None and entry.reviewed_at > last:
        last = entry.reviewed_at
    return local(last).date()


def _report_scope(ctx: Ctx, s: Session) -> _Scope:
    """Whose entries a report shows: admins and centre staff see every unit, others their subtree."""
    if ctx.actor.role == "admin":
        return _Scope(True, frozenset(), False)
    return _scope(ctx, s)


def upkeep(ctx: Ctx, today: date, stale_days: int | None = None) -> dict[str, Any]:
    """Entries to flag to their owner unit (T24 20, 22(5); TTR 29): still published past ``valid_to``
    (``expired``), or neither changed nor confirmed for ``stale_days`` (profile
    ``supervision.kb_stale_days``, default 180; ``stale``). Units without flags are not listed."""
    require_role(ctx, *REPORT_ROLES, what="查看知识库维护情况")
    days = stale_days if stale_days is not None else stale_days_of(ctx)
    if days < 1:
        raise InvalidInput("未更新天数必须是正整数")
    with ctx.read() as s:
        scope = _report_scope(ctx, s)
        units = {u.id: u for u in s.exec(select(Unit))}
        per: dict[int | None, dict[str, Any]] = {}
        for e in s.exec(select(KBEntry).where(KBEntry.status == "published").order_by(col(KBEntry.id))):
            if not scope.covers(e.unit_id):
                continue
            expired = e.valid_to is not None and e.valid_to < today
            last = _last_touched(e)
            stale = not expired and (today - last).days >= days
            if not (expired or stale):
                continue
            row = per.setdefault(e.unit_id, {"expired": [], "stale": []})
            if expired:
                row["expired"].append({"id": e.id, "title": e.title, "valid_to": str(e.valid_to)})
            else:
                row["stale"].append({"id": e.id, "title": e.title, "last_reviewed": last.isoformat()})
    out_units = []
    for unit_id, row in per.items():
        unit = units.get(unit_id) if unit_id is not None else None
        out_units.append(
            {
                "unit": unit.code if unit else None,
                "unit_name": unit.name if unit else "（未指定单位）",
                "expired": row["expired"],
                "stale": row["stale"],
                "expired_count": len(row["expired"]),
                "stale_count": len(row["stale"]),
            }
        )
    out_units.sort(key=lambda r: r["unit"] or "")
    return {
        "today": today.isoformat(),
        "stale_days": days,
        "units": out_units,
        "totals": {
            "expired": sum(r["expired_count"] for r in out_units),
            "stale": sum(r["stale_count"] for r in out_units),
            "units": len(out_units),
        },
        "cite": CITE_UPKEEP,
    }


@dataclass(frozen=True)
class FilingWindow:
    """When the report on ``month`` is filed: ``opens``..``closes`` in the next month; ``deadline`` is the
    last working day on or before ``closes`` (never postponed, TTR 31(4)); ``early``: deadline moved."""

    month: str
    opens: date
    closes: date
    deadline: date
    early: bool
    note: str
    warnings: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "opens": self.opens.isoformat(),
            "closes": self.closes.isoformat(),
            "deadline": self.deadline.isoformat(),
            "early": self.early,
            "note": self.note,
            "warnings": list(self.warnings),
        }


def parse_month(month: str) -> tuple[int, int]:
    m = _MONTH_RE.match((month or "").strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InvalidInput(f"月份格式不正确：{month!r}，应为 YYYY-MM（如 2025-01）")
    return int(m.group(1)), int(m.group(2))


def _md(d: date) -> str:
    return f"{d.month}月{d.day}日"


WEEKDAYS = "一二三四五六日"


def filing_window(
    calendar: WorkCalendar, month: str, window: Sequence[int] = (1, 5), *, postpone: bool = False
) -> FilingWindow:
    """TTR 31(1), (4): the report on ``month`` is filed on days ``window`` of the following month; if the
    last day is not a working day it is not postponed: the deadline is the last working day on or before
    it (when the whole window is holidays, the last working day before it: file before the holiday).
    ``postpone=True`` (a profile that allows it) moves to the next working day instead."""
    year, mon = parse_month(month)
    first_day, last_day = int(window[0]), int(window[1])
    if not 1 <= first_day <= last_day <= 28:
        raise InvalidInput(f"月报填报期配置不正确：{list(window)}（应为 [起始日, 截止日]，1 至 28）")
    ny, nm = (year + 1, 1) if mon == 12 else (year, mon + 1)
    opens, closes = date(ny, nm, first_day), date(ny, nm, last_day)
    deadline = closes
    step = timedelta(days=1 if postpone else -1)
    guard = 0
    while not calendar.is_workday(deadline) and guard < 60:
        deadline += step
        guard += 1
    years = sorted({closes.year, deadline.year})
    warnings = tuple(w for w in (calendar.warning_for(y) for y in years) if w)
    label = f"{year}年{mon}月知识库信息月报表"
    if deadline == closes:
        note = f"{label}应于{_md(opens)}至{_md(closes)}填报（{CITE_REPORT}）"
    elif postpone:
        note = f"{label}填报期最后一日{_md(closes)}为非工作日，顺延至{_md(deadline)}"
    elif deadline >= opens:
        note = (
            f"{label}填报期最后一日{_md(closes)}（星期{WEEKDAYS[closes.weekday()]}）为非工作日，不顺延，"
            f"应提前于{_md(deadline)}（星期{WEEKDAYS[deadline.weekday()]}）前填报（{CITE_REPORT}第（四）项）"
        )
    else:
        note = (
            f"{label}填报期{_md(opens)}至{_md(closes)}均为非工作日，不顺延，应于节前最后一个工作日"
            f"{deadline.isoformat()}提前填报（{CITE_REPORT}第（四）项）"
        )
    return FilingWindow(month, opens, closes, deadline, deadline < closes, note, warnings)


def monthly_report(ctx: Ctx, month: str) -> dict[str, Any]:
    """The monthly KB report (TTR 31) on ``month`` ('YYYY-MM'), one row per unit in the actor's view:
    entries added, changed, withdrawn (changes that went live, by the day they were made), still pending
    or rejected, and flagged (expired / stale) as of the day the filing window opens. Every unit that owns
    entries has a row even with no change (TTR 31(3): 无更新亦应确认填报).

    Returns ``{"month", "window": FilingWindow.to_json(), "stale_days", "as_of", "rows": [...],
    "totals": {...}, "cite"}``; a row is ``{"unit", "unit_name", "entries", "added", "changed",
    "withdrawn", "pending", "rejected", "expired", "stale", "flagged", "no_change", "note"}``."""
    require_role(ctx, *REPORT_ROLES, what="查看知识库月报")
    year, mon = parse_month(month)
    month = f"{year:04d}-{mon:02d}"
    kb_rules = ctx.policy.extra.get("kb", {})
    win = filing_window(
        ctx.calendar,
        month,
        tuple(kb_rules.get("report_month_window", (1, 5))),
        postpone=bool(kb_rules.get("postpone_on_holiday", False)),
    )
    start = datetime.combine(date(year, mon, 1), time(0), TZ)
    end = datetime.combine(win.opens.replace(day=1), time(0), TZ)
    as_of = win.opens.replace(day=1)
    days = stale_days_of(ctx)
    keys = ("entries", "added", "changed", "withdrawn", "pending", "rejected", "expired", "stale", "flagged")
    with ctx.read() as s:
        scope = _report_scope(ctx, s)
        units = {u.id: u for u in s.exec(select(Unit))}
        rows: dict[int | None, dict[str, int]] = {}

        def row(unit_id: int | None) -> dict[str, int]:
            return rows.setdefault(unit_id, dict.fromkeys(keys, 0))

        first_version: dict[str, int] = {}
        first_at: dict[str, datetime] = {}
        for entry_id, number, at in s.exec(
            select(KBVersion.entry_id, func.min(KBVersion.version), func.min(KBVersion.changed_at)).group_by(
                col(KBVersion.entry_id)
            )
        ).all():
            first_version[entry_id] = int(number)
            first_at[entry_id] = at
        for e in s.exec(select(KBEntry).where(KBEntry.status == "published")):
            if not scope.covers(e.unit_id) or local(first_at.get(e.id, e.updated_at)) >= end:
                continue  # not in view, or it did not exist yet at the end of the month
            r = row(e.unit_id)
            r["entries"] += 1
            expired = e.valid_to is not None and e.valid_to < as_of
            stale = not expired and (as_of - _last_touched(e)).days >= days
            r["expired"] += int(expired)
            r["stale"] += int(stale)
            r["flagged"] += int(expired or stale)
        for v in s.exec(
            select(KBVersion).where(col(KBVersion.changed_at) >= start, col(KBVersion.changed_at) < end)
        ):
            if not scope.covers(v.unit_id):
                continue
            r = row(v.unit_id)
            if v.status in ("pending", "rejected"):
                r[v.status] += 1
            elif v.status == "superseded" and v.review_note.startswith("已被本单位"):
                continue  # a unit's draft replaced by its own later change
            elif v.change == "withdraw":
                r["withdrawn"] += 1
            elif v.version == first_version.get(v.entry_id):
                r["added"] += 1
            else:
                r["changed"] += 1
    out_rows = []
    for unit_id, r in rows.items():
        unit = units.get(unit_id) if unit_id is not None else None
        no_change = r["added"] + r["changed"] + r["withdrawn"] == 0
        out_rows.append(
            {
                "unit": unit.code if unit else None,
                "unit_name": unit.name if unit else "（未指定单位）",
                **r,
                "no_change": no_change,
                "note": "本月无更新，亦应确认填报" if no_change else "",
            }
        )
    out_rows.sort(key=lambda x: x["unit"] or "")
    totals = {k: sum(r[k] for r in rows.values()) for k in keys}
    return {
        "month": month,
        "window": win.to_json(),
        "stale_days": days,
        "as_of": as_of.isoformat(),
        "rows": out_rows,
        "totals": totals,
        "cite": str(kb_rules.get("cite", CITE_REPORT)),
    }


REPORT_COLUMNS = (
    ("unit", "单位代码"),
    ("unit_name", "单位"),
    ("entries", "条目数"),
    ("added", "新增"),
    ("changed", "修改"),
    ("withdrawn", "撤回"),
    ("pending", "待审核"),
    ("rejected", "退回"),
    ("expired", "已过期"),
    ("stale", "长期未更新"),
    ("note", "备注"),
)


def report_markdown(report: dict[str, Any]) -> str:
    """The monthly report as Markdown (what ``hotline kb report --month`` prints by default)."""
    win = report["window"]
    lines = [
        f"# {report['month']} 知识库信息月报",
        "",
        f"- 填报期：{win['opens']} 至 {win['closes']}，截止：**{win['deadline']}**",
        f"- {win['note']}",
        *[f"- 注意：{w}" for w in win["warnings"]],
        f"- 过期/长期未更新统计截至 {report['as_of']}（未更新超过 {report['stale_days']} 天）",
        "",
        "| " + " | ".join(label for _, label in REPORT_COLUMNS) + " |",
        "|" + "---|" * len(REPORT_COLUMNS),
    ]
    for r in report["rows"]:
        cells = ["" if r[k] is None else str(r[k]).replace("|", "\\|") for k, _ in REPORT_COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    t = report["totals"]
    total_cells = ["合计", ""] + [str(t[k]) for k, _ in REPORT_COLUMNS[2:-1]] + [""]
    lines.append("| " + " | ".join(total_cells) + " |")
    return "\n".join(lines) + "\n"


def report_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([label for _, label in REPORT_COLUMNS])
    for r in report["rows"]:
        writer.writerow(["" if r[k] is None else r[k] for k, _ in REPORT_COLUMNS])
    return buf.getvalue()
