"""The ``hotline`` command: the same services as the screens, scripted, JSON out.

A refused or malformed command prints a Chinese message on stderr, exits non-zero and changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hotline_tui.clock import FixedClock, SystemClock, iso, parse_datetime
from hotline_tui.errors import HotlineError, InvalidInput, NotFound, PermissionDenied

Handler = Callable[[argparse.Namespace], int]
_GLOBALS = ("db", "policy", "now", "user", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's messages are English; say it in Chinese too
        raise InvalidInput(f"命令格式错误：{message}\n用法：{self.format_usage().strip()}")

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # Python < 3.12 drops an option value that is exactly "--" (``--text=--`` gave [], then a TypeError)
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            value = self._get_value(action, "--")
            self._check_value(action, value)
            return value
        return super()._get_values(action, arg_strings)


def _add_globals(p: argparse.ArgumentParser, top: bool) -> None:
    default: Any = None if top else argparse.SUPPRESS
    p.add_argument(
        "--db",
        default=default,
        help="数据库地址（sqlite:///路径 或 postgresql://...；默认 HOTLINE_DB 或用户数据目录）",
    )
    p.add_argument("--policy", default=default, help="策略配置（tianjin|guangzhou|taian|tianjin-2015）")
    p.add_argument("--now", default=default, help="固定当前时间（ISO 格式，测试与演练用）")
    p.add_argument("--user", default=default, help="以该用户身份操作（检查角色与单位范围）")
    p.add_argument(
        "--json", action="store_true", default=False if top else argparse.SUPPRESS, help="输出 JSON"
    )


def _out(args: argparse.Namespace, data: Any, text: str | None = None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    elif text is not None:
        print(text)
    else:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _clock(args: argparse.Namespace) -> FixedClock | SystemClock:
    if args.now:
        return FixedClock(parse_datetime(args.now))
    env = os.environ.get("HOTLINE_NOW")
    return FixedClock(parse_datetime(env)) if env else SystemClock()


def _ctx(args: argparse.Namespace, *, need_user: bool = True) -> Any:
    from hotline_tui.store import open_ctx

    user = args.user or os.environ.get("HOTLINE_USER")
    if need_user and not user:
        raise PermissionDenied("请用 --user 指定操作人（或设置 HOTLINE_USER）")
    return open_ctx(args.db, user=user, policy=args.policy, clock=_clock(args))


def _admin_ctx(args: argparse.Namespace) -> Any:
    """Admin commands: as --user when given (must be admin), else as the local system account."""
    from hotline_tui.store import open_ctx

    user = args.user or os.environ.get("HOTLINE_USER")
    return open_ctx(args.db, user=user, policy=args.policy, clock=_clock(args))


# ---------------------------------------------------------------- init / policy / units / users


def cmd_init(args: argparse.Namespace) -> int:
    from hotline_tui.db import make_engine
    from hotline_tui.store import is_initialised, set_active_policy, upgrade

    engine = make_engine(args.db)
    had = is_initialised(engine)
    before, after = upgrade(engine)
    if args.policy:
        set_active_policy(engine, args.policy)
    loaded: dict[str, Any] = {}
    if args.demo:
        from hotline_tui.demo import load_demo, store_is_empty

        if store_is_empty(engine) or not args.if_empty:
            if not store_is_empty(engine):
                raise InvalidInput("数据库已有数据，演示数据只能载入空库（已有数据未改动）")
            loaded = load_demo(engine, now=_clock(args).now())
    from hotline_tui.services.audit import install_guards

    install_guards(engine)  # events append-only; table-rebuilding migrations drop triggers: on every init
    if had and before != after:  # a new index layout: rebuild it (demo loads build their own)
        from hotline_tui.search import rebuild_index

        rebuild_index(engine)
    result = {
        "url": str(engine.url.render_as_string(hide_password=True)),
        "before": before,
        "after": after,
        "demo": loaded,
    }
    if had and before == after:
        msg = f"数据库已是最新结构（{after}）"
    elif had:
        msg = f"数据库已从 {before} 升级到 {after}，原有数据保留"
    else:
        msg = f"已创建数据库（结构版本 {after}）：{result['url']}"
    if loaded:
        msg += "\n已载入演示数据：" + "，".join(f"{k} {v}" for k, v in loaded.items())
    _out(args, result, msg)
    return 0


def cmd_policy_show(args: argparse.Namespace) -> int:
    from hotline_tui.policy import available, load_policy

    name = args.name or args.policy
    if not name and not args.name:
        try:
            from hotline_tui.db import make_engine
            from hotline_tui.store import active_policy_name

            name = active_policy_name(make_engine(args.db))
        except HotlineError:
            name = "tianjin"
    p = load_policy(name or "tianjin")
    data = {
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
            }
            for r in p.deadline_rules
        ],
        "accept_limit": p.accept_limit.label() if p.accept_limit else None,
        "return_window": p.return_window.label(),
        "designation_after": p.designation_after,
        "extension_max": p.extension.max_count,
    }
    _out(args, data)
    return 0


def cmd_policy_set(args: argparse.Namespace) -> int:
    from hotline_tui.store import set_active_policy

    ctx = _admin_ctx(args)
    if ctx.actor.id is None:  # the store's own OS account, before any admin exists
        p = set_active_policy(ctx.engine, args.name)
    else:
        from hotline_tui.services.admin import set_policy

        p = set_policy(ctx, args.name)  # admins only; writes a policy_changed event
    _out(args, {"policy": p.name}, f"已启用策略配置：{p.name}（{p.title}）")
    return 0


def cmd_unit_import(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import import_units, parse_units

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"无法读取文件 {path}：{exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"文件 {path} 不是 UTF-8 编码（第 {exc.start + 1} 个字节起），请另存为 UTF-8 后重试"
        ) from None
    specs = parse_units(text, str(path))
    result = import_units(_admin_ctx(args), specs)
    _out(args, result, f"单位导入完成：新增 {result['created']}，更新 {result['updated']}")
    return 0


def cmd_unit_list(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import list_units

    rows = list_units(_admin_ctx(args))
    _out(
        args,
        rows,
        "\n".join(f"{r['code']:<14} {r['name']}（{r['kind']}，上级 {r['parent'] or '无'}）" for r in rows),
    )
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\n")
    return None


def cmd_user_add(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import add_user

    user = add_user(
        _admin_ctx(args),
        args.name,
        args.role,
        args.unit,
        _read_password(args),
        display_name=args.display_name or "",
    )
    _out(args, {"name": user.name, "role": user.role}, f"已添加用户 {user.name}（{user.role}）")
    return 0


def cmd_user_edit(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import change_user

    result = change_user(
        _admin_ctx(args), args.name, role=args.role, unit_code=args.unit, display_name=args.display_name
    )
    _out(args, result, f"已修改用户 {args.name}")
    return 0


def cmd_user_state(args: argparse.Namespace) -> int:
    from hotline_tui.services import admin

    verb = args._verb
    action = {
        "deactivate": admin.deactivate_user,
        "reactivate": admin.reactivate_user,
        "unlock": admin.unlock_account,
    }
    action[verb](_admin_ctx(args), args.name)
    done = {"deactivate": "已停用", "reactivate": "已启用", "unlock": "已解锁"}[verb]
    _out(args, {"name": args.name, "action": verb}, f"{done}用户 {args.name}")
    return 0


def cmd_unit_add(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import add_unit

    result = add_unit(_admin_ctx(args), args.code, args.name, args.kind, args.parent, args.keywords)
    _out(args, result, f"已新增单位 {args.code}（{args.name}）")
    return 0


def cmd_unit_edit(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import change_unit

    result = change_unit(_admin_ctx(args), args.code, name=args.name, kind=args.kind, keywords=args.keywords)
    _out(args, result, f"已修改单位 {args.code}")
    return 0


def cmd_unit_move(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import move_unit

    parent = None if args.parent.strip() in ("-", "") else args.parent
    result = move_unit(_admin_ctx(args), args.code, parent)
    _out(args, result, f"已调整 {args.code} 的上级单位（联络员重新登录后生效）")
    return 0


def cmd_unit_active(args: argparse.Namespace) -> int:
    from hotline_tui.services import admin

    verb = args._verb
    result = (admin.deactivate_unit if verb == "deactivate" else admin.reactivate_unit)(
        _admin_ctx(args), args.code
    )
    _out(
        args,
        result or {"code": args.code},
        f"{'已停用' if verb == 'deactivate' else '已启用'}单位 {args.code}",
    )
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import list_users

    rows = list_users(_admin_ctx(args))
    _out(args, rows, "\n".join(f"{r['name']:<14} {r['role_label']:<8} {r['unit'] or ''}" for r in rows))
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import set_password

    password = _read_password(args)
    if password is None:
        import getpass

        password = getpass.getpass("新密码：")
    set_password(_admin_ctx(args), args.name, password)
    _out(args, {"name": args.name}, f"已修改 {args.name} 的密码")
    return 0


# ---------------------------------------------------------------- rules / calendar


def _policy_and_calendar(args: argparse.Namespace) -> tuple[Any, Any]:
    """Rules commands work without a store; with one they use its calendar overrides and policy."""
    from hotline_tui.db import make_engine
    from hotline_tui.policy import load_policy
    from hotline_tui.services.core import load_calendar
    from hotline_tui.store import active_policy_name, is_initialised
    from hotline_tui.workdays import WorkCalendar

    engine = make_engine(args.db)
    try:
        ready = is_initialised(engine)
    except Exception:
        ready = False
    if ready:
        return load_policy(args.policy or active_policy_name(engine)), load_calendar(engine)
    return load_policy(args.policy or "tianjin"), WorkCalendar.load()


def cmd_rules_due(args: argparse.Namespace) -> int:
    from hotline_tui.services.deadlines import handling_due
    from hotline_tui.services.intake import resolve_code

    policy, cal = _policy_and_calendar(args)
    start = parse_datetime(args.start) if args.start else _clock(args).now()
    answer, _ = handling_due(
        policy,
        cal,
        type_=resolve_code(args.type, policy.types, "诉求类型"),
        channel=resolve_code(args.channel, policy.channels, "渠道"),
        urgency=resolve_code(args.urgency, policy.urgencies, "紧急程度"),
        start=start,
    )
    text = f"{iso(answer.due_at)}\n{answer.explanation}\n依据：{answer.rule}"
    for w in answer.warnings:
        text += f"\n警告：{w}"
    for w in answer.warnings:
        print(f"警告：{w}", file=sys.stderr)
    _out(args, answer.to_json(), text)
    return 0


def _read_text_arg(value: str) -> str:
    if value == "-":
        return sys.stdin.read()
    path = Path(value)
    try:
        is_file = "\n" not in value and len(value.encode(errors="surrogatepass")) < 1024 and path.is_file()
    except OSError:  # a long text is not a file name
        is_file = False
    if is_file:
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"无法读取文件 {path}：{exc}") from None
    return value


def cmd_rules_check_reply(args: argparse.Namespace) -> int:
    from hotline_tui.services.reply_check import check_reply

    policy, _ = _policy_and_calendar(args)
    result = check_reply(_read_text_arg(args.file), policy)
    data = result.to_json()
    text = (
        "答复符合要求"
        if result.ok
        else "答复不符合要求：\n" + "\n".join(f"- {f.message}" for f in result.findings)
    )
    _out(args, data, text)
    return 0 if result.ok else 1


def cmd_rules_triage(args: argparse.Namespace) -> int:
    from hotline_tui.services.triage import triage

    policy, _ = _policy_and_calendar(args)
    result = triage(_read_text_arg(" ".join(args.text)), policy)
    data = result.to_json()
    _out(args, data, f"{result.cls}（{result.label}）→ {result.route}\n{result.reason}\n依据：{result.rule}")
    return 0


def cmd_calendar_show(args: argparse.Namespace) -> int:
    _, cal = _policy_and_calendar(args)
    year = int(args.year)
    days = []
    for month in range(1, 13):
        for d, work in cal.month_days(year, month):
            if work != (d.weekday() < 5):
                days.append({"date": d.isoformat(), "workday": work, "name": cal.holiday_name(d) or ""})
    warning = cal.warning_for(year)
    data = {"year": year, "covered": cal.covers(year), "warning": warning, "exceptions": days}
    lines = [f"{year}年 {'已有官方安排' if cal.covers(year) else '无官方数据'}"]
    if warning:
        lines.append(f"警告：{warning}")
        print(f"警告：{warning}", file=sys.stderr)
    for month in range(1, 13):
        row = "".join(
            ("·" if work else ("休" if d.weekday() < 5 else "_")) if True else ""
            for d, work in cal.month_days(year, month)
        )
        lines.append(f"{month:>2}月 {row}")
    lines.append("（· 工作日  _ 周末  休 工作日放假）")
    for d in days:
        lines.append(f"{d['date']} {'调休上班' if d['workday'] else '放假'} {d['name']}")
    _out(args, data, "\n".join(lines))
    return 0


def cmd_calendar_add(args: argparse.Namespace) -> int:
    from hotline_tui.services.admin import add_calendar

    f = add_calendar(_admin_ctx(args), int(args.year), Path(args.file))
    _out(
        args,
        {
            "year": f.year,
            "holidays": [d.isoformat() for d in f.holidays],
            "workdays": [d.isoformat() for d in f.workdays],
        },
        f"已录入 {f.year} 年节假日安排：放假 {len(f.holidays)} 天，调休上班 {len(f.workdays)} 天",
    )
    return 0


# ---------------------------------------------------------------- tickets


def cmd_ticket_new(args: argparse.Namespace) -> int:
    from hotline_tui.services.intake import IntakeForm, create_ticket

    ctx = _ctx(args)
    form = IntakeForm(
        type=args.type,
        channel=args.channel,
        text=_read_text_arg(args.text),
        urgency=args.urgency,
        caller_name=args.name or "",
        caller_phone=args.phone or "",
        caller_address=args.address or "",
        caller_id_number=args.id_number or "",
        district=args.district or "",
        anonymous=args.anonymous,
        confidential=args.confidential,
        no_reply=args.no_reply,
        labels=tuple(args.label or ()),
        received_at=parse_datetime(args.received_at) if args.received_at else None,
    )
    t = create_ticket(ctx, form)
    _out(args, {"no": t.no, "status": t.status, "triage": t.triage_class}, t.no)
    return 0


def _show(args: argparse.Namespace, ctx: Any, no: str) -> int:
    from hotline_tui.services.queries import ticket_detail

    detail = ticket_detail(ctx, no)
    if getattr(args, "json", False):
        _out(args, detail)
        return 0
    lines = [
        f"{detail['no']}  {detail['status_label']}  {detail['type_label']}·{detail['channel_label']}·{detail['urgency_label']}"
        + (" " + " ".join(f"【{x}】" for x in detail["labels"]) if detail["labels"] else ""),
        f"诉求人：{detail['caller']['name'] or '（匿名）'} {detail['caller']['phone']}  {detail['caller']['address']}"
        + (f"  身份证号 {detail['caller']['id_number']}" if detail["caller"]["id_number"] else "")
        + (
            "（已脱敏；查看完整信息：hotline ticket reveal 工单号 --reason 理由）"
            if detail["caller"]["can_reveal"] and detail["caller"]["masked"]
            else ""
        ),
        f"诉求：{detail['text']}",
    ]
    for a in detail["assignments"]:
        lines.append(
            f"  [{a['id']}] {a['unit_name']}（{a['role']}）{a['status_label']}  时限 {a['due_at']}  延期{a['extensions']}次"
        )
    lines.append("时间线：")
    for e in detail["events"]:
        lines.append(f"  {e['at']}  {e['kind']}  {e['actor']}")
    print("\n".join(lines))
    return 0


def cmd_ticket_show(args: argparse.Namespace) -> int:
    return _show(args, _ctx(args), args.no)


def cmd_ticket_reveal(args: argparse.Namespace) -> int:
    from hotline_tui.privacy import PII_FIELDS
    from hotline_tui.services.privacy import reveal_caller

    fields = tuple(args.field) if args.field else PII_FIELDS
    result = reveal_caller(_ctx(args), args.no, args.reason or "", fields)
    labels = {"name": "姓名", "phone": "联系电话", "address": "地址", "id_number": "身份证号"}
    text = "\n".join(f"{labels[k]}：{v or '（未登记）'}" for k, v in result["fields"].items())
    _out(args, result, text + "\n（本次查看已记入审计日志）")
    return 0


def cmd_ticket_export(args: argparse.Namespace) -> int:
    from hotline_tui.services.privacy import export_tickets, write_export

    fmt = args.format or ("jsonl" if args.out.endswith((".jsonl", ".json")) else "csv")
    if fmt not in ("csv", "jsonl"):
        raise InvalidInput(f"未知的导出格式：{fmt}（可选：csv、jsonl）")
    rows = export_tickets(
        _ctx(args),
        status=args.status,
        since=_day_bound(args.since, end=False),
        until=_day_bound(args.until, end=True),
        full=args.full,
        reason=args.reason or "",
    )
    write_export(rows, Path(args.out), fmt)
    note = "含完整个人信息，请妥善保管" if args.full else "个人信息已脱敏"
    _out(
        args,
        {"path": args.out, "rows": len(rows), "masked": not args.full},
        f"已导出 {len(rows)} 张工单到 {args.out}（{note}）",
    )
    return 0


def _day_bound(value: str | None, *, end: bool) -> Any:
    """A date (whole day) or a datetime from the command line."""
    if not value:
        return None
    from datetime import datetime, time

    from hotline_tui.clock import TZ

    text = value.strip()
    if len(text) == 10:
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            raise InvalidInput(f"日期格式不正确：{value}（应为 2025-01-24 或 2025-01-24T09:00:00）") from None
        return datetime.combine(day, time.max if end else time.min, tzinfo=TZ)
    return parse_datetime(text)


def cmd_ticket_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from hotline_tui.services.queries import visible_tickets

    rows = visible_tickets(_ctx(args), limit=args.limit, status=args.status)
    _out(
        args,
        [asdict(r) for r in rows],
        "\n".join(
            f"{r.no}  {r.status:<6} {r.type} {r.urgency} {r.due_at or '':<12} {r.units}  {r.summary}"
            for r in rows
        ),
    )
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    """The centre's queues (dispatchers, supervisors) or a unit's inbox (liaison officers), as on screen."""
    from dataclasses import asdict

    ctx = _ctx(args)
    if ctx.actor.role == "liaison":
        from hotline_tui.services.inbox import TAB_LABELS, load_inbox

        data = load_inbox(ctx, limit=args.limit)
        out: dict[str, Any] = {
            "counts": data.counts,
            "capped": sorted(data.capped),
            "tabs": {tab: [asdict(r) for r in rows] for tab, rows in data.rows.items()},
        }
        lines = []
        for tab, rows in data.rows.items():
            more = "+" if tab in data.capped else ""
            lines.append(f"{TAB_LABELS[tab]} {data.counts[tab]}{more}")
            for r in rows:
                clock, _ = r.clock().show(data.now) if r.due_iso else ("", "")
                lines.append(
                    f"  {r.no}  {r.clock_kind}{clock:<12} {r.urgency_label} {r.unit_name}  {r.summary}"
                )
        _out(args, out, "\n".join(lines))
        return 0
    from hotline_tui.services.queues import QUEUE_LABELS, load_queues

    qd = load_queues(ctx, limit=args.limit)
    lines = []
    for queue, items in qd.rows.items():
        lines.append(f"{QUEUE_LABELS[queue]} {qd.counts[queue]}")
        lines += [f"  {r.no}  {r.urgency_label} {r.unit}  {r.what}  {r.summary}" for r in items]
    _out(
        args,
        {"counts": qd.counts, "queues": {q: [asdict(r) for r in rows] for q, rows in qd.rows.items()}},
        "\n".join(lines),
    )
    return 0


def _done(args: argparse.Namespace, ctx: Any, no: str, message: str) -> int:
    if getattr(args, "json", False):
        from hotline_tui.services.queries import ticket_detail

        _out(args, ticket_detail(ctx, no, audit=False))
    else:
        print(message)
    return 0


def _my_assignment(ctx: Any, no: str, explicit: int | None) -> int:
    """The actor's unit's live assignment on ticket ``no`` (or the one named with --assignment)."""
    from sqlmodel import col, select

    from hotline_tui.models import Assignment
    from hotline_tui.services.core import get_ticket

    if explicit is not None:
        return explicit
    with ctx.read() as s:
        t = get_ticket(s, no)
        stmt = select(Assignment).where(Assignment.ticket_id == t.id).order_by(col(Assignment.id).desc())
        rows = list(s.exec(stmt))
    mine = [a for a in rows if a.unit_id in ctx.actor.unit_ids]
    if not mine:
        if ctx.actor.role != "liaison":
            raise PermissionDenied(f"{ctx.actor.role_label}不能代承办单位操作（仅限承办单位联络员）")
        raise PermissionDenied(f"工单 {t.no} 未派给您所在单位")
    live = [a for a in mine if a.status in ("pending", "handling", "replied")]
    pick = (live or mine)[0]
    assert pick.id is not None
    return pick.id


def cmd_ticket_dispatch(args: argparse.Namespace) -> int:
    from hotline_tui.services.dispatch import dispatch

    ctx = _ctx(args)
    units = [args.unit] + list(args.co or [])
    rows = dispatch(ctx, args.no, units, designate=args.designate, consulted=args.consulted or "")
    return _done(
        args,
        ctx,
        args.no,
        f"已派单：{args.no} → "
        + "、".join(f"{u}（截至 {iso(a.due_at)}）" for u, a in zip(units, rows, strict=True)),
    )


def cmd_ticket_split(args: argparse.Namespace) -> int:
    from hotline_tui.services.dispatch import split_dispatch

    ctx = _ctx(args)
    parts = []
    for item in args.part:
        if "=" not in item:
            raise InvalidInput(f"--part 应写作 单位代码=诉求内容：{item}")
        code, text = item.split("=", 1)
        parts.append((code.strip(), text))
    nos = split_dispatch(ctx, args.no, parts)
    _out(args, {"tickets": nos}, "已拆分派单：" + "、".join(nos))
    return 0


def cmd_ticket_answer(args: argparse.Namespace) -> int:
    from hotline_tui.services.intake import answer_on_spot

    ctx = _ctx(args)
    answer_on_spot(ctx, args.no, args.kb, args.note or "")
    return _done(args, ctx, args.no, f"{args.no} 已直接答复（引用知识库 {args.kb}）")


def cmd_ticket_refer(args: argparse.Namespace) -> int:
    from hotline_tui.services.intake import refer

    ctx = _ctx(args)
    t = refer(ctx, args.no, args.cls, args.route or "", args.note or "")
    return _done(args, ctx, args.no, f"{t.no} 已分类处理：{t.triage_class} → {t.route}")


def cmd_ticket_accept(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import accept

    ctx = _ctx(args)
    a = accept(ctx, _my_assignment(ctx, args.no, args.assignment))
    late = "（已超过接单时限，记入督办）" if a.accepted_late else ""
    return _done(args, ctx, args.no, f"{args.no} 已接单{late}，办理时限 {iso(a.due_at)}")


def cmd_ticket_return(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import request_return

    ctx = _ctx(args)
    fields: dict[str, Any] = {}
    for key in (
        "reason",
        "basis",
        "suggested_unit",
        "earlier_results",
        "kb_entry",
        "document_numbers",
        "inspection_consent",
        "caller_informed",
    ):
        value = getattr(args, key, None)
        if value:
            fields[key] = value
    if args.item:
        fields["items"] = list(args.item)
    req = request_return(
        ctx, _my_assignment(ctx, args.no, args.assignment), args.code, fields, complex_case=args.complex
    )
    return _done(args, ctx, args.no, f"{args.no} 退单申请已提交（申请号 {req.id}），等待热线工作机构审核")


def _pending_request(ctx: Any, no: str, kind: str, explicit: int | None) -> int:
    from sqlmodel import select

    from hotline_tui.models import UnitRequest
    from hotline_tui.services.core import get_ticket

    if explicit is not None:
        return explicit
    with ctx.read() as s:
        t = get_ticket(s, no)
        req = s.exec(
            select(UnitRequest).where(
                UnitRequest.ticket_id == t.id, UnitRequest.kind == kind, UnitRequest.status == "pending"
            )
        ).first()
    if req is None or req.id is None:
        from hotline_tui.models import REQUEST_KINDS

        raise NotFound(f"工单 {no} 没有待审核的{REQUEST_KINDS[kind]}")
    return req.id


def _decision(args: argparse.Namespace) -> bool:
    if args.approve == args.reject:
        raise InvalidInput("请指定 --approve 或 --reject 之一")
    return bool(args.approve)


def cmd_ticket_review_return(args: argparse.Namespace) -> int:
    from hotline_tui.services.review import review_return

    ctx = _ctx(args)
    approve = _decision(args)
    review_return(
        ctx,
        _pending_request(ctx, args.no, "return", args.request),
        approve=approve,
        note=args.note or "",
        redispatch_to=([args.unit] + list(args.co or [])) if args.unit else None,
        designate=args.designate,
        consulted=args.consulted or "",
    )
    return _done(args, ctx, args.no, f"{args.no} 退单申请已{'同意' if approve else '驳回'}")


def cmd_ticket_extend(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import request_extension

    ctx = _ctx(args)
    req = request_extension(
        ctx,
        _my_assignment(ctx, args.no, args.assignment),
        reason=args.reason,
        contacted_at=args.contacted_at or "",
        caller_consent=args.consent,
        caller_opinion=args.opinion or "",
    )
    return _done(args, ctx, args.no, f"{args.no} 延期申请已提交（申请号 {req.id}）")


def cmd_ticket_review_extension(args: argparse.Namespace) -> int:
    from hotline_tui.services.review import review_extension

    ctx = _ctx(args)
    approve = _decision(args)
    review_extension(
        ctx, _pending_request(ctx, args.no, "extension", args.request), approve=approve, note=args.note or ""
    )
    return _done(args, ctx, args.no, f"{args.no} 延期申请已{'批准' if approve else '驳回'}")


def cmd_ticket_note(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import add_note

    ctx = _ctx(args)
    add_note(ctx, _my_assignment(ctx, args.no, args.assignment), _read_text_arg(args.text))
    return _done(args, ctx, args.no, f"{args.no} 已记录办理进展")


def cmd_ticket_stop(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import request_stop

    ctx = _ctx(args)
    req = request_stop(ctx, _my_assignment(ctx, args.no, args.assignment), args.code, args.materials)
    return _done(args, ctx, args.no, f"{args.no} 终止办理申请已提交（申请号 {req.id}）")


def cmd_ticket_review_stop(args: argparse.Namespace) -> int:
    from hotline_tui.services.review import review_stop

    ctx = _ctx(args)
    approve = _decision(args)
    review_stop(
        ctx, _pending_request(ctx, args.no, "stop", args.request), approve=approve, note=args.note or ""
    )
    return _done(args, ctx, args.no, f"{args.no} 终止办理申请已{'同意' if approve else '驳回'}")


def cmd_ticket_reply(args: argparse.Namespace) -> int:
    from hotline_tui.services.handling import reply

    ctx = _ctx(args)
    reply(ctx, _my_assignment(ctx, args.no, args.assignment), _read_text_arg(args.text))
    return _done(args, ctx, args.no, f"{args.no} 答复已提交，等待审核")


def _replied_assignment(ctx: Any, no: str, explicit: int | None) -> int:
    from sqlmodel import select

    from hotline_tui.models import Assignment
    from hotline_tui.services.core import get_ticket

    if explicit is not None:
        return explicit
    with ctx.read() as s:
        t = get_ticket(s, no)
        a = s.exec(
            select(Assignment).where(
                Assignment.ticket_id == t.id, Assignment.status == "replied", Assignment.role != "co"
            )
        ).first()
    if a is None or a.id is None:
        raise NotFound(f"工单 {no} 没有待审核的答复")
    return a.id


def cmd_ticket_review_reply(args: argparse.Namespace) -> int:
    from hotline_tui.services.review import review_reply

    ctx = _ctx(args)
    approve = _decision(args)
    review_reply(
        ctx, _replied_assignment(ctx, args.no, args.assignment), approve=approve, note=args.note or ""
    )
    return _done(
        args,
        ctx,
        args.no,
        f"{args.no} 答复已{'审核通过' if approve else '退回承办单位（办理期限不重新计算）'}",
    )


def cmd_ticket_callback(args: argparse.Namespace) -> int:
    from hotline_tui.services.callback import record_callback

    ctx = _ctx(args)
    solved = None if args.solved is None else args.solved in ("yes", "是", "true", "1")
    rehandle = None if args.rehandle is None else args.rehandle in ("yes", "是", "true", "1")
    t = record_callback(
        ctx,
        args.no,
        reached=not args.not_reached,
        satisfaction=args.satisfaction,
        solved=solved,
        words=args.words or "",
        reason=args.reason or "",
        rehandle=rehandle,
    )
    return _done(args, ctx, args.no, f"{t.no} 回访已记录，当前状态：{t.status}")


def cmd_ticket_appeal(args: argparse.Namespace) -> int:
    from hotline_tui.services.appeal import appeal

    ctx = _ctx(args)
    req = appeal(
        ctx,
        _my_assignment(ctx, args.no, args.assignment),
        args.explanation,
        args.evidence or "",
        args.exclusion,
    )
    return _done(args, ctx, args.no, f"{args.no} 申诉已提交（申请号 {req.id}）")


def cmd_ticket_review_appeal(args: argparse.Namespace) -> int:
    from hotline_tui.services.appeal import review_appeal

    ctx = _ctx(args)
    approve = _decision(args)
    review_appeal(
        ctx, _pending_request(ctx, args.no, "appeal", args.request), accept=approve, note=args.note or ""
    )
    return _done(args, ctx, args.no, f"{args.no} 申诉已{'采纳（不作负面评价）' if approve else '驳回'}")


# ---------------------------------------------------------------- intake helpers: history, repeats, suggestions


def _plain(value: Any) -> Any:
    """A service's dataclasses as JSON-ready values (times in ISO 8601 local time)."""
    import dataclasses
    from datetime import datetime

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def cmd_ticket_history(args: argparse.Namespace) -> int:
    from hotline_tui.privacy import valid_phone
    from hotline_tui.services.callers import caller_history, normalized_phone

    if not valid_phone(normalized_phone(args.phone)):
        raise InvalidInput(f"联系电话格式不正确：{args.phone}（应为11位手机号或带区号的固话）")
    h = caller_history(_ctx(args), args.phone, args.text or "", exclude_no=args.exclude)
    lines = [f"该号码共有 {h.total} 张工单" + (f"，最近 {len(h.rows)} 张：" if h.rows else "")]
    for r in h.rows:
        lines.append(f"  {r.no}  {iso(r.created_at)}  {r.status_label}  {r.type_label}  {r.text}")
        lines.append(f"      → {r.result}")
    if h.repeat:
        lines.append(f"重复诉求：{h.repeat.message}\n  可告知：{h.repeat.tell}")
    if h.abuse:
        lines.append(f"提示：{h.abuse.message}")
    _out(args, _plain(h), "\n".join(lines))
    return 0


def cmd_ticket_similar(args: argparse.Namespace) -> int:
    from hotline_tui.services.callers import similar_open

    rows = similar_open(
        _ctx(args),
        _read_text_arg(args.text),
        district=args.district or "",
        address=args.address or "",
        exclude_phone=args.exclude_phone or "",
        limit=args.limit,
    )
    text = "\n".join(
        f"{r.no}  {r.status_label}  {r.district or '-'}  相似度 {r.similarity:.2f}  {r.text}"
        + (f"（{'、'.join(r.units)}）" if r.units else "")
        for r in rows
    )
    _out(args, _plain(rows), text or "近期没有其他诉求人反映的同类在办工单")
    return 0


def cmd_ticket_suggest(args: argparse.Namespace) -> int:
    from hotline_tui.services.suggest import suggest_units

    rows = suggest_units(
        _ctx(args),
        _read_text_arg(args.text),
        address=args.address or "",
        district=args.district or "",
        limit=args.limit,
    )
    text = "\n".join(f"{r.code:<12} {r.name}（{r.score:.2f}）：{'；'.join(r.reasons)}" for r in rows)
    _out(args, _plain(rows), text or "没有可建议的承办单位，请在单位列表中选择")
    return 0


def cmd_unit_find(args: argparse.Namespace) -> int:
    from hotline_tui.services.suggest import find_units

    rows = find_units(_ctx(args, need_user=False), " ".join(args.query), limit=args.limit)
    text = "\n".join(
        f"{r.code:<14} {r.name}（{r.kind_label}" + (f"，上级 {r.parent_name}）" if r.parent_name else "）")
        for r in rows
    )
    _out(args, _plain(rows), text or "没有匹配的承办单位")
    return 0


def cmd_ticket_lookup(args: argparse.Namespace) -> int:
    from hotline_tui.services.lookup import lookup_tickets

    rows = lookup_tickets(_ctx(args), " ".join(args.query), limit=args.limit)
    text = "\n".join(
        f"{r.no}  {r.status:<6} {r.type} {r.created_at}  {r.due_at or '':<12} {r.units}  {r.summary}"
        for r in rows
    )
    _out(args, _plain(rows), text or "没有找到工单（可输入工单编号、编号后几位、来电号码或诉求内容中的词）")
    return 0


def cmd_ticket_repeat_call(args: argparse.Namespace) -> int:
    from hotline_tui.services.callers import record_repeat_call

    ctx = _ctx(args)
    record_repeat_call(ctx, args.no, channel=args.channel, note=args.note or "")
    return _done(
        args, ctx, args.no, f"已在 {args.no.strip().upper()} 记录重复来电（已告知进度或结果，未新建工单）"
    )


def cmd_ticket_preview(args: argparse.Namespace) -> int:
    from hotline_tui.services.suggest import preview_new

    lines = preview_new(
        _ctx(args),
        type_=args.type,
        channel=args.channel,
        urgency=args.urgency,
        unit_codes=[args.unit, *(args.co or [])],
    )
    roles = {"single": "承办", "lead": "主办", "co": "协办"}
    text = []
    for x in lines:
        text.append(f"{x.unit_name}（{roles.get(x.role, x.role)}）")
        text.extend(f"  {part}" for part in (x.accept, x.handling, x.returns) if part)
        text.append(f"  依据：{x.rule}")
        text.extend(f"  警告：{w}" for w in x.warnings)
    if lines and lines[0].dispatch:
        text.append(lines[0].dispatch)
    for w in sorted({w for x in lines for w in x.warnings}):
        print(f"警告：{w}", file=sys.stderr)
    _out(args, _plain(lines), "\n".join(text))
    return 0


# ---------------------------------------------------------------- knowledge base


def cmd_kb_import(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"无法读取文件 {path}：{exc}") from None
    result = kb.import_jsonl(_admin_ctx(args), text, str(path))
    _out(
        args,
        result,
        f"知识库导入完成：新增 {result['created']}，更新 {result['updated']}，未变 {result['unchanged']}",
    )
    return 0


def cmd_kb_export(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    text = kb.export_jsonl(_admin_ctx(args), include_expired=not args.current_only)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"已导出到 {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from hotline_tui.search import search
    from hotline_tui.services import kb

    ctx = _ctx(args, need_user=False)
    query = " ".join(args.query)
    with ctx.read() as s:
        hits = search(
            s,
            query,
            limit=args.limit,
            category=args.category,
            unit=args.unit,
            include_expired=args.include_expired,
            today=ctx.now().date(),
        )
    if ctx.actor.id is not None:
        kb.log_search(ctx, query, len(hits), hits[0].id if hits else None)
    labels = {"current": "", "upcoming": "【即将生效】", "expired": "【已失效】"}
    data = [
        {
            **h.to_json(),
            "category": h.category,
            "unit": h.unit,
            "validity": h.validity,
            "valid_from": h.valid_from,
            "valid_to": h.valid_to,
        }
        for h in hits
    ]
    text = (
        "\n".join(f"{h.id}  {labels.get(h.validity, '')}{h.title}\n    {h.snippet}" for h in hits)
        or "没有找到相关知识点"
    )
    _out(args, data, text)
    return 0


def cmd_kb_report(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    report = kb.monthly_report(_ctx(args), args.month)
    if args.format == "csv":
        text = kb.report_csv(report)
    elif args.format == "json" or args.json:
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    else:
        text = kb.report_markdown(report)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"已写入 {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_kb_upkeep(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    ctx = _ctx(args)
    data = kb.upkeep(ctx, ctx.now().date(), args.stale_days)
    lines = [f"过期 {data['totals']['expired']} 条，久未更新 {data['totals']['stale']} 条（{data['cite']}）"]
    for u in data["units"]:
        lines.append(f"  {u['unit_name']}：过期 {u['expired_count']}，久未更新 {u['stale_count']}")
    _out(args, data, "\n".join(lines))
    return 0


def cmd_kb_gaps(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from hotline_tui.services import kb

    ctx = _ctx(args)
    until = ctx.now().date()
    rows = kb.search_gaps(ctx, until - timedelta(days=args.days), until)
    _out(args, rows, "\n".join(f"{r['count']:>4}  {r['query']}" for r in rows) or "没有无结果的搜索")
    return 0


def cmd_kb_answered(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from hotline_tui.services import kb

    ctx = _ctx(args)
    until = ctx.now().date()
    rows = kb.answered_by_entry(ctx, until - timedelta(days=args.days), until)
    text = "\n".join(f"{r['count']:>4}  {r['entry']}  {r['title']}" for r in rows) or "期间没有直接答复的来电"
    _out(args, rows, text)
    return 0


def cmd_kb_history(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    rows = kb.history(_ctx(args), args.id)
    lines = []
    for r in rows:
        lines.append(
            f"v{r['version']} {r['status']} {r['change']} {r['changed_at']} {r['changed_by'] or ''} {r['title']}"
        )
        lines.extend(f"    {d}" for d in r["diff"])
    _out(args, rows, "\n".join(lines))
    return 0


def cmd_kb_review(args: argparse.Namespace) -> int:
    from hotline_tui.services import kb

    ctx = _ctx(args)
    if args.version is None:
        rows = kb.review_queue(ctx)
        _out(
            args,
            rows,
            "\n".join(f"[{r['id']}] {r['entry']} v{r['version']} {r['change']} {r['title']}" for r in rows)
            or "没有待审核的知识点修改",
        )
        return 0
    change = kb.review_change(ctx, args.version, _decision(args), args.note or "")
    _out(args, change.to_json(), f"已{'通过' if args.approve else '退回'}：{change.to_json()['entry']}")
    return 0


# ---------------------------------------------------------------- audit


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from hotline_tui.db import make_engine
    from hotline_tui.services.audit import verify_chain

    user = args.user or os.environ.get("HOTLINE_USER")
    report = verify_chain(_ctx(args) if user else make_engine(args.db))
    if args.json:
        print(report.to_json())
    else:
        for problem in report.problems:
            print(problem.message)
        print(report.summary())
    return 0 if report.ok else 1


def cmd_audit_log(args: argparse.Namespace) -> int:
    from hotline_tui.services.audit import audit_log

    rows = audit_log(
        _ctx(args),
        user=args.actor,
        ticket_no=args.ticket,
        since=args.since,
        until=args.until,
        limit=args.limit,
    )
    text = "\n".join(f"{r['at']}  {r['kind_label']:<8} {r['actor']:<10} {r['ticket_no'] or ''}" for r in rows)
    _out(args, rows, text)
    return 0


# ---------------------------------------------------------------- backup


def _require_admin_if_named(args: argparse.Namespace) -> None:
    """Backup and restore need no store login, but a named user must be an admin (T24 27)."""
    user = args.user or os.environ.get("HOTLINE_USER")
    if not user:
        return
    ctx = _admin_ctx(args)
    if ctx.actor.role != "admin":
        raise PermissionDenied(f"{ctx.actor.role_label}无权备份或恢复数据库（仅限系统管理员）")


def cmd_backup(args: argparse.Namespace) -> int:
    from hotline_tui.db import make_engine
    from hotline_tui.services.backup import backup, describe

    _require_admin_if_named(args)
    result = backup(make_engine(args.db), Path(args.path), overwrite=args.force)
    _out(args, result.to_json(), describe(result))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from hotline_tui.db import default_url
    from hotline_tui.services.backup import describe, restore

    result = restore(Path(args.path), args.db or default_url(), force=args.force)
    _out(args, result.to_json(), describe(result))
    return 0


# ---------------------------------------------------------------- SSH


def cmd_ssh_setup(args: argparse.Namespace) -> int:
    from hotline_tui.ssh import (
        DEFAULT_HOTLINE,
        SessionSettings,
        render_config,
        setup_report,
        ssh_setup,
        write_snippet,
    )

    settings = SessionSettings(
        hotline=args.hotline or DEFAULT_HOTLINE,
        db=args.db or os.environ.get("HOTLINE_DB", ""),
        color_system=args.color_system,
        escdelay_ms=args.escdelay,
    )
    mappings, settings = ssh_setup(
        maps=args.map or (), from_store=args.from_store, prefix=args.prefix, auth=args.auth, settings=settings
    )
    text = render_config(mappings, settings)
    if args.out:
        write_snippet(Path(args.out), text)
    if args.json:
        _out(args, setup_report(mappings, settings, args.out))
    elif args.out:
        print(
            f"已写入 {args.out}：{len(mappings)} 个 SSH 账户；请运行 sshd -t 检查后重新加载 sshd",
            file=sys.stderr,
        )
    else:
        print(text, end="")
    return 0


def cmd_ssh_session(args: argparse.Namespace) -> int:
    from hotline_tui.ssh import ssh_session

    return ssh_session(args.as_user, password=args.password, db=args.db)


# ---------------------------------------------------------------- TUI


def cmd_tui(args: argparse.Namespace) -> int:
    from hotline_tui.app import run_app

    return run_app(
        db=args.db, user=args.user or os.environ.get("HOTLINE_USER"), policy=args.policy, now=args.now
    )


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hotline", description="12345 政务服务便民热线终端（不带子命令时启动界面）")
    _add_globals(parser, top=True)
    parser.set_defaults(func=cmd_tui)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    def add(parent: Any, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        _add_globals(p, top=False)
        p.set_defaults(func=func)
        return p

    def group(name: str, help_: str) -> Any:
        g = sub.add_parser(name, help=help_, description=help_)
        _add_globals(g, top=False)
        g.set_defaults(
            func=lambda a: (_ for _ in ()).throw(
                InvalidInput(f"请指定 {name} 的子命令，见 hotline {name} --help")
            )
        )
        return g.add_subparsers(dest=f"{name}_command", parser_class=_Parser)

    p = add(sub, "init", cmd_init, "创建或升级数据库结构（数据不丢失）")
    p.add_argument("--demo", action="store_true", help="载入演示单位、用户、知识库与工单")
    p.add_argument("--if-empty", action="store_true", help="仅当数据库为空时载入演示数据")
    add(sub, "tui", cmd_tui, "启动终端界面")

    pol = group("policy", "策略配置")
    p = add(pol, "show", cmd_policy_show, "显示策略配置")
    p.add_argument("name", nargs="?")
    p = add(pol, "set", cmd_policy_set, "设置本库启用的策略配置（管理员）")
    p.add_argument("name")

    unit = group("unit", "承办单位")
    p = add(unit, "import", cmd_unit_import, "从 TOML 导入单位（[[unit]] code name parent kind keywords）")
    p.add_argument("file")
    add(unit, "list", cmd_unit_list, "列出单位")
    p = add(unit, "find", cmd_unit_find, "查找承办单位：名称、代码、拼音首字母（如 hpq）、关键词")
    p.add_argument("query", nargs="*")
    p.add_argument("--limit", type=int, default=20)
    p = add(unit, "add", cmd_unit_add, "新增单位（管理员）")
    p.add_argument("code")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", required=True)
    p.add_argument("--parent")
    p.add_argument("--keywords", default="", help="派单建议用的关键词，逗号或顿号分隔")
    p = add(unit, "edit", cmd_unit_edit, "修改单位名称、类别或关键词（管理员）")
    p.add_argument("code")
    p.add_argument("--name")
    p.add_argument("--kind")
    p.add_argument("--keywords", help="整组替换关键词，逗号或顿号分隔")
    p = add(unit, "move", cmd_unit_move, "调整上级单位（管理员）")
    p.add_argument("code")
    p.add_argument("--parent", required=True, help="新的上级单位代码；- 表示无上级")
    for verb, what in (("deactivate", "停用单位"), ("reactivate", "启用单位")):
        p = add(unit, verb, cmd_unit_active, f"{what}（管理员）")
        p.add_argument("code")
        p.set_defaults(_verb=verb)

    user = group("user", "用户")
    p = add(user, "add", cmd_user_add, "添加用户")
    p.add_argument("name")
    p.add_argument("--role", required=True)
    p.add_argument("--unit")
    p.add_argument("--display-name")
    p.add_argument("--password-stdin", action="store_true")
    add(user, "list", cmd_user_list, "列出用户")
    p = add(user, "passwd", cmd_user_passwd, "修改密码")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true")
    p = add(user, "edit", cmd_user_edit, "修改用户角色、单位或姓名（管理员）")
    p.add_argument("name")
    p.add_argument("--role")
    p.add_argument("--unit", help="单位代码；空字符串表示不属于任何单位")
    p.add_argument("--display-name")
    for verb, what in (("deactivate", "停用用户"), ("reactivate", "启用用户"), ("unlock", "解锁账户")):
        p = add(user, verb, cmd_user_state, f"{what}（管理员）")
        p.add_argument("name")
        p.set_defaults(_verb=verb)

    rules = group("rules", "规则引擎")
    p = add(rules, "due", cmd_rules_due, "计算办理时限")
    p.add_argument("--type", required=True)
    p.add_argument("--start")
    p.add_argument("--channel", default="phone")
    p.add_argument("--urgency", default="normal")
    p = add(rules, "check-reply", cmd_rules_check_reply, "检查答复内容（违规时退出码1）")
    p.add_argument("file", help="文件路径，- 表示标准输入，或直接写答复文字")
    p = add(rules, "triage", cmd_rules_triage, "诉求分类处理判断")
    p.add_argument("text", nargs="+")

    cal = group("calendar", "工作日历")
    p = add(cal, "show", cmd_calendar_show, "显示某年的工作日安排")
    p.add_argument("year", type=_year)
    p = add(cal, "add", cmd_calendar_add, "录入某年国务院节假日安排（TOML）")
    p.add_argument("year", type=_year)
    p.add_argument("file")

    p = add(sub, "backup", cmd_backup, "备份数据库（SQLite 在线备份；PostgreSQL 用 pg_dump）")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="覆盖已存在的备份文件")
    p = add(sub, "restore", cmd_restore, "从备份恢复到 --db 指定的数据库（非空库须加 --force）")
    p.add_argument("path")
    p.add_argument("--force", action="store_true", help="替换非空数据库中的现有数据")

    p = add(sub, "queue", cmd_queue, "中心审核队列（派单审核、督办管理）或本单位工单箱（承办单位联络员）")
    p.add_argument("--limit", type=int, default=300)
    aud = group("audit", "审计")
    add(aud, "verify", cmd_audit_verify, "校验事件哈希链：发现被修改、删除或插入的记录（有问题时退出码1）")
    p = add(aud, "log", cmd_audit_log, "查看审计记录（督办管理、系统管理员）")
    p.add_argument("--actor")
    p.add_argument("--ticket")
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--limit", type=int, default=200)

    kbg = group("kb", "知识库")
    p = add(kbg, "import", cmd_kb_import, "导入知识点（JSON Lines；同一 id 再次导入即更新并保留历史）")
    p.add_argument("file")
    p = add(kbg, "export", cmd_kb_export, "导出知识点（JSON Lines）")
    p.add_argument("--out")
    p.add_argument("--current-only", action="store_true")
    p = add(kbg, "search", cmd_kb_search, "检索知识库")
    p.add_argument("query", nargs="+")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--category")
    p.add_argument("--unit")
    p.add_argument("--include-expired", action="store_true")
    p = add(kbg, "report", cmd_kb_report, "知识库月报（天津交通运输委规程第三十一条）")
    p.add_argument("--month", required=True)
    p.add_argument("--format", choices=("md", "csv", "json"), default="md")
    p.add_argument("--out")
    p = add(kbg, "upkeep", cmd_kb_upkeep, "过期与久未更新的知识点（按承办单位）")
    p.add_argument("--stale-days", type=int)
    p = add(kbg, "gaps", cmd_kb_gaps, "无结果的搜索（知识库待补充）")
    p.add_argument("--days", type=int, default=30)
    p = add(kbg, "answered", cmd_kb_answered, "直接答复引用最多的知识点")
    p.add_argument("--days", type=int, default=30)
    p = add(kbg, "history", cmd_kb_history, "知识点修改历史")
    p.add_argument("id")
    p = add(kbg, "review", cmd_kb_review, "待审核的修改；给出 --version 与 --approve/--reject 即审核")
    p.add_argument("--version", type=int)
    p.add_argument("--approve", action="store_true")
    p.add_argument("--reject", action="store_true")
    p.add_argument("--note")

    tk = group("ticket", "工单")
    p = add(tk, "new", cmd_ticket_new, "受理新工单")
    p.add_argument("--type", required=True)
    p.add_argument("--channel", default="phone")
    p.add_argument("--text", required=True)
    p.add_argument("--urgency", default="normal")
    p.add_argument("--phone")
    p.add_argument("--name")
    p.add_argument("--address")
    p.add_argument("--id-number", help="诉求人身份证号（18位，事项需要时才登记）")
    p.add_argument("--district")
    p.add_argument("--anonymous", action="store_true")
    p.add_argument("--confidential", action="store_true")
    p.add_argument("--no-reply", action="store_true")
    p.add_argument("--label", action="append")
    p.add_argument("--received-at")
    p = add(tk, "show", cmd_ticket_show, "查看工单")
    p.add_argument("no")
    p = add(tk, "reveal", cmd_ticket_reveal, "填写理由查看诉求人完整个人信息（记入审计日志）")
    p.add_argument("no")
    p.add_argument("--reason", required=True, help="查看理由（至少4个字）")
    p.add_argument(
        "--field",
        action="append",
        choices=("name", "phone", "address", "id_number"),
        help="只查看某项（可重复）",
    )
    p = add(tk, "export", cmd_ticket_export, "导出工单（默认脱敏；--full 须督办管理角色并写明理由）")
    p.add_argument("--out", required=True, help="输出文件（.csv 或 .jsonl）")
    p.add_argument("--format", choices=("csv", "jsonl"))
    p.add_argument("--status")
    p.add_argument("--since", help="受理时间起（2025-01-24 或 ISO 时间）")
    p.add_argument("--until", help="受理时间止（含当日）")
    p.add_argument("--full", action="store_true", help="导出未脱敏的个人信息（记入审计日志）")
    p.add_argument("--reason", help="导出完整信息的理由")
    p = add(tk, "list", cmd_ticket_list, "列出本角色可见的工单")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=50)
    p = add(tk, "dispatch", cmd_ticket_dispatch, "派单（--co 为协办单位）")
    p.add_argument("no")
    p.add_argument("--unit", required=True)
    p.add_argument("--co", action="append")
    p.add_argument("--designate", action="store_true", help="指定承办单位（不得退回）")
    p.add_argument("--consulted", help="征求意见的部门")
    p = add(tk, "split", cmd_ticket_split, "拆分派单：--part 单位代码=诉求内容（至少两项）")
    p.add_argument("no")
    p.add_argument("--part", action="append", required=True)
    p = add(tk, "answer", cmd_ticket_answer, "直接答复（引用知识库条目）")
    p.add_argument("no")
    p.add_argument("--kb", required=True)
    p.add_argument("--note")
    p = add(tk, "refer", cmd_ticket_refer, "分类处理：转接紧急热线或告知其他途径")
    p.add_argument("no")
    p.add_argument("--class", dest="cls", required=True)
    p.add_argument("--route")
    p.add_argument("--note")
    for name, func, help_ in (
        ("accept", cmd_ticket_accept, "接单"),
        ("return", cmd_ticket_return, "申请退单"),
        ("extend", cmd_ticket_extend, "申请延期"),
        ("note", cmd_ticket_note, "记录办理进展"),
        ("stop", cmd_ticket_stop, "申请终止办理"),
        ("reply", cmd_ticket_reply, "提交答复"),
        ("appeal", cmd_ticket_appeal, "不满意工单申诉"),
    ):
        p = add(tk, name, func, help_)
        p.add_argument("no")
        p.add_argument("--assignment", type=int)
        if name == "return":
            p.add_argument(
                "--code",
                default="not_our_duty",
                help="退单理由代码或中文名（默认 not_our_duty 非本单位职责）",
            )
            p.add_argument("--reason")
            p.add_argument("--basis")
            p.add_argument("--suggested-unit")
            p.add_argument("--item", action="append", help="需再次核实的信息（可多次）")
            p.add_argument("--earlier-results")
            p.add_argument("--kb-entry")
            p.add_argument("--document-numbers")
            p.add_argument("--inspection-consent")
            p.add_argument("--caller-informed")
            p.add_argument("--complex", action="store_true", help="疑难复杂事项")
        elif name == "extend":
            p.add_argument("--reason", required=True)
            p.add_argument("--contacted-at")
            p.add_argument("--consent", action="store_true", help="诉求人已同意延期")
            p.add_argument("--opinion")
        elif name in ("note", "reply"):
            p.add_argument("--text", required=True)
        elif name == "stop":
            p.add_argument("--code", required=True)
            p.add_argument("--materials", required=True)
        elif name == "appeal":
            p.add_argument("--explanation", required=True)
            p.add_argument("--evidence")
            p.add_argument("--exclusion", action="append", help="自述属于的不得申诉情形代码")
    for name, func, help_ in (
        ("review-return", cmd_ticket_review_return, "审核退单申请"),
        ("review-extension", cmd_ticket_review_extension, "审核延期申请"),
        ("review-stop", cmd_ticket_review_stop, "审核终止办理申请"),
        ("review-reply", cmd_ticket_review_reply, "审核答复"),
        ("review-appeal", cmd_ticket_review_appeal, "审核申诉"),
    ):
        p = add(tk, name, func, help_)
        p.add_argument("no")
        p.add_argument("--approve", action="store_true")
        p.add_argument("--reject", action="store_true")
        p.add_argument("--note")
        if name == "review-reply":
            p.add_argument("--assignment", type=int)
        else:
            p.add_argument("--request", type=int)
        if name == "review-return":
            p.add_argument("--unit", help="同意后重新派往的单位")
            p.add_argument("--co", action="append")
            p.add_argument("--designate", action="store_true")
            p.add_argument("--consulted")
    p = add(tk, "history", cmd_ticket_history, "来电号码的历史工单、重复诉求与占线提示")
    p.add_argument("--phone", required=True)
    p.add_argument("--text", help="本次诉求内容（用于判断是否重复诉求）")
    p.add_argument("--exclude", help="不计入的工单编号（如本次已保存的工单）")
    p = add(tk, "similar", cmd_ticket_similar, "其他诉求人反映的同一问题的在办工单（同一区域）")
    p.add_argument("--text", required=True)
    p.add_argument("--district")
    p.add_argument("--address")
    p.add_argument("--exclude-phone", help="本次来电号码（不列出其本人的工单）")
    p.add_argument("--limit", type=int, default=5)
    p = add(tk, "suggest", cmd_ticket_suggest, "派单建议：按关键词、知识库与近期相似工单")
    p.add_argument("--text", required=True)
    p.add_argument("--address")
    p.add_argument("--district")
    p.add_argument("--limit", type=int, default=5)
    p = add(tk, "lookup", cmd_ticket_lookup, "查询工单：编号、编号后几位、受理日期、来电号码或诉求内容")
    p.add_argument("query", nargs="+")
    p.add_argument("--limit", type=int, default=50)
    p = add(tk, "repeat-call", cmd_ticket_repeat_call, "记录重复来电：已告知办理进度或结果，不新建工单")
    p.add_argument("no")
    p.add_argument("--channel", required=True)
    p.add_argument("--note")
    p = add(tk, "preview", cmd_ticket_preview, "预览派单后的接单、办理、退单时限（工单尚未保存）")
    p.add_argument("--type", required=True)
    p.add_argument("--channel", required=True)
    p.add_argument("--urgency", default="normal")
    p.add_argument("--unit", required=True)
    p.add_argument("--co", action="append")
    p = add(tk, "callback", cmd_ticket_callback, "记录回访结果")
    p.add_argument("no")
    p.add_argument("--not-reached", action="store_true", help="未联系上")
    p.add_argument("--satisfaction", help="satisfied|basically_satisfied|dissatisfied")
    p.add_argument("--solved", help="yes|no")
    p.add_argument("--words", help="诉求人意见")
    p.add_argument("--reason", help="不满意原因代码")
    p.add_argument("--rehandle", help="yes|no：首次不满意是否退回重办（默认是）")
    p = add(sub, "ssh-setup", cmd_ssh_setup, "生成 sshd 配置片段：承办单位联络员通过 SSH 登录即进入热线终端")
    p.add_argument("--map", action="append", metavar="系统账户=热线用户名[:key|password]", help="可重复")
    p.add_argument(
        "--from-store", action="store_true", help="为数据库中所有在用的联络员生成（账户名 = 前缀 + 用户名）"
    )
    p.add_argument("--prefix", default="hl_", help="--from-store 的系统账户名前缀（默认 hl_）")
    p.add_argument(
        "--auth",
        default="key",
        help="key：SSH 密钥即登录（默认）；password：密钥登录后仍须在登录界面输入热线密码（用户名已填好）",
    )
    p.add_argument("--hotline", help="部署的 hotline 程序（默认 /opt/hotline/bin/hotline）")
    p.add_argument(
        "--color-system", default="256", help="TEXTUAL_COLOR_SYSTEM：standard|256|truecolor（默认 256）"
    )
    p.add_argument("--escdelay", type=int, default=100, help="ESCDELAY 毫秒（默认 100，不小于 100）")
    p.add_argument("--out", help="写入文件（如 /etc/ssh/sshd_config.d/hotline.conf；默认输出到标准输出）")
    p = add(sub, "ssh-session", cmd_ssh_session, "SSH 强制命令入口（由 ssh-setup 生成的配置调用）")
    p.add_argument("--as", dest="as_user", required=True, help="热线用户名")
    p.add_argument("--password", action="store_true", help="仍显示登录界面，须输入热线密码")
    return parser


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        raise InvalidInput(f"年份应为四位数字：{text}") from None
    if not 1990 <= year <= 2200:
        raise InvalidInput(f"年份超出范围：{year}")
    return year


SATISFACTION_ALIASES = {"满意": "satisfied", "基本满意": "basically_satisfied", "不满意": "dissatisfied"}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        for key in _GLOBALS:
            if not hasattr(args, key):
                setattr(args, key, None if key != "json" else False)
        if getattr(args, "satisfaction", None) in SATISFACTION_ALIASES:
            args.satisfaction = SATISFACTION_ALIASES[args.satisfaction]
        result: int = args.func(args)
        return result
    except HotlineError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("已取消", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so in Chinese, without a traceback full of caller data
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            print(f"错误：数据库操作失败（{type(exc).__name__}），操作未生效", file=sys.stderr)
        else:
            print(f"错误：程序内部错误（{type(exc).__name__}），操作未生效；请联系管理员", file=sys.stderr)
        if os.environ.get("HOTLINE_DEBUG"):
            raise
        return 3
