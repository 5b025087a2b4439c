"""Policy profiles: the rules of one regulation set, as data (``data/policies/<name>.toml``).

Services ask the profile; they never hold a number themselves. The loader validates a profile
completely and names the file and the key that is wrong, so adding a city is adding a file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast

from hotline_tui.errors import PolicyError
from hotline_tui.workdays import PeriodUnit, StartRule

POLICY_DIR = Path(__file__).parent / "data" / "policies"
DEFAULT_POLICY = "tianjin"

TYPE_CODES = ("consult", "help", "complaint", "report", "suggestion", "handle", "feedback")
CHANNEL_CODES = ("phone", "web", "wechat", "email", "miniprogram", "12328", "zmlj")
URGENCY_CODES = ("normal", "urgent", "very_urgent", "critical")
UNIT_KINDS = (
    "centre",
    "district",
    "department",
    "sub_unit",
    "utility",
    "sub_centre",
    "dual_number",
    "enterprise",
)
TRIAGE_CLASSES = (
    "emergency",
    "legal_procedure",
    "secret",
    "unlawful",
    "repeat",
    "out_of_city",
    "other_body",
    "civil_dispute",
    "regional",
)
RETURN_FIELDS = {
    "reason": "退单理由",
    "basis": "依据",
    "suggested_unit": "建议承办单位",
    "items": "需再次核实的全部信息",
    "earlier_results": "往次办理情况和办理结果",
    "kb_entry": "引用的知识库条目",
    "document_numbers": "文件编号等佐证材料",
}
EXTENSION_FIELDS = {
    "reason": "延期原因",
    "contacted_at": "与诉求人联系的时间",
    "caller_consent": "诉求人同意延期",
    "caller_opinion": "诉求人意见",
}
LabelReturn = Literal["allowed", "discouraged", "consent"]
AppealWindow = Literal["none", "monthly_day", "days_after_rating", "disabled"]


@dataclass(frozen=True)
class Period:
    amount: int
    unit: PeriodUnit

    def label(self) -> str:
        return {"hours": f"{self.amount}小时", "wd": f"{self.amount}个工作日", "days": f"{self.amount}日"}[
            self.unit
        ]


@dataclass(frozen=True)
class DeadlineRule:
    channels: frozenset[str] | None
    types: frozenset[str] | None
    urgencies: frozenset[str] | None
    period: Period
    cite: str

    def matches(self, channel: str, type_: str, urgency: str) -> bool:
        return (
            (self.channels is None or channel in self.channels)
            and (self.types is None or type_ in self.types)
            and (self.urgencies is None or urgency in self.urgencies)
        )


@dataclass(frozen=True)
class ReturnReason:
    code: str
    label: str
    required: tuple[str, ...]
    cite: str
    no_repeat: bool = False  # e.g. TTR 8(3)2: re-check items are listed at once, never returned twice


@dataclass(frozen=True)
class LabelRule:
    name: str
    returns: LabelReturn
    extension_forbidden: bool
    cite: str


@dataclass(frozen=True)
class UnitGroup:
    """Units (and their sub-units) under one of ``units`` get these overrides."""

    name: str
    units: frozenset[str]
    return_window: Period | None
    return_window_complex: Period | None
    accept_limit: Period | None
    cite: str


@dataclass(frozen=True)
class ReplyElement:
    code: str
    label: str
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class ReplyRules:
    elements: tuple[ReplyElement, ...]
    vague_only: tuple[str, ...]  # a reply that is only one of these is refused
    process_phrases: tuple[str, ...]
    template_phrases: tuple[str, ...]
    return_reason_phrases: tuple[str, ...]
    min_chars: int
    cite: str
    sent_back_cite: str
    # the article each kind of finding cites (each defaults to ``cite``)
    cite_elements: str = ""
    cite_quality: str = ""  # too short, off-topic, vague result
    cite_vague: str = ""  # only a vague phrase such as 已联系
    cite_process: str = ""  # a process answer such as 办理中 as the result
    cite_template: str = ""
    cite_return_reason: str = ""  # a return reason as the result
    # personal data of other people a reply must not carry (T24 19): kinds from privacy.find_pii
    privacy_scan: tuple[str, ...] = ()
    cite_privacy: str = ""
    # words that make a phone number in the same clause the handling staff's contact (TTR 16(1) asks for it)
    contact_cues: tuple[str, ...] = ()


DEFAULT_PII_SCAN = ("id_number", "mobile", "plate")
DEFAULT_CONTACT_CUES = (
    "工作人员", "承办人", "经办人", "联系人", "网格员", "民警", "警官", "执法人员", "执法队员", "科长",
    "处长", "所长", "队长", "站长", "主任", "经理", "书记", "同志", "客服", "联系电话", "办公电话",
    "服务电话", "咨询电话", "值班电话", "热线",
)  # fmt: skip


@dataclass(frozen=True)
class TriageClass:
    code: str
    label: str
    route: str
    keywords: tuple[str, ...]
    cite: str
    number: str = ""  # emergency: the line to transfer to
    topics: tuple[str, ...] = ()  # count only with a ``context`` cue in the same or a neighbouring clause
    context: tuple[str, ...] = ()
    negations: tuple[str, ...] = ()  # cancel a hit in its own clause
    excludes: tuple[str, ...] = ()  # cancel every hit when anywhere in the text (火已经灭了)


@dataclass(frozen=True)
class ExtensionRules:
    enabled: bool
    max_count: int
    lead: Period | None  # at least this long before the deadline
    forbidden_types: frozenset[str]
    forbidden_urgencies: frozenset[str]
    required: tuple[str, ...]
    consent_required: bool
    cite: str
    cite_count: str
    cite_lead: str
    cite_forbidden: str


@dataclass(frozen=True)
class AppealRules:
    window: AppealWindow
    day: int  # monthly_day: the day of the next month; days_after_rating: number of working days
    postpone_on_non_workday: bool
    exclusions: dict[str, str]
    cite: str
    cite_window: str


@dataclass(frozen=True)
class CallbackRules:
    exempt_anonymous: bool
    exempt_no_reply: bool
    dissatisfied_exempt_reasons: dict[str, str]
    max_attempts: int
    rehandle_max: int
    rehandle_extension: bool
    cite: str
    cite_rehandle: str
    cite_exempt: str
    # Product values where no regulation sets a number (callback_queue.py): how much of a day's consults
    # answered on the spot is sampled for a quality callback (TTR 17 "随机进行抽查回访"), and how long an
    # unreached caller waits before the next attempt by default.
    sample_percent: int = 10
    retry_minutes: int = 30
    cite_sample: str = "天津交通运输委规程第十七条"


@dataclass(frozen=True)
class RepeatRules:
    """Repeat calls and abuse of the line (T24 12, 13(5); GZ 11(4), 12, 22; TA 11, 13(4), 32).

    ``window_days``: how far back a finished ticket of the same caller counts as the matter repeated
    (a ticket still in progress always counts); ``min_similarity``: the text similarity (0..1) from
    which two demands are taken as the same matter; ``similar_days``: how far back other callers' open
    tickets on the same matter are shown (hot spots, T24 22(3)); ``abuse_calls`` calls from one number
    in ``abuse_days`` days show the abuse warning; ``abuse_labels``: ticket labels that mark a call as
    harassment or abuse of the line (counted with tickets referred as unlawful).
    """

    window_days: int
    min_similarity: float
    similar_days: int
    abuse_calls: int
    abuse_days: int
    cite: str  # repeat of a matter in progress: tell the progress
    cite_done: str  # repeat of a finished matter: tell the result
    abuse_cite: str
    abuse_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    name: str
    title: str
    regulation: str
    ticket_prefix: str
    path: Path
    types: dict[str, str]
    channels: dict[str, str]
    urgencies: dict[str, str]
    wd_start: StartRule
    deadline_rules: tuple[DeadlineRule, ...]
    deadline_cite: str
    dispatch_limit: Period | None
    dispatch_cite: str
    accept_limit: Period | None
    accept_cite: str
    return_window: Period
    return_window_complex: Period | None
    return_cite: str
    return_reasons: tuple[ReturnReason, ...]
    return_review_cite: str
    designation_after: int
    designation_cite: str
    designation_consult_required: bool
    labels: tuple[LabelRule, ...]
    unit_groups: tuple[UnitGroup, ...]
    extension: ExtensionRules
    stop_enabled: bool
    stop_reasons: dict[str, str]
    stop_cite: str
    reply: ReplyRules
    lead_waits_for_co: bool
    co_reply_cite: str
    callback: CallbackRules
    appeal: AppealRules
    triage: tuple[TriageClass, ...]
    repeat: RepeatRules
    extra: dict[str, Any] = field(default_factory=dict)  # supervision, kb, scorecard: read by later modules

    def deadline_rule(self, channel: str, type_: str, urgency: str) -> DeadlineRule:
        for rule in self.deadline_rules:
            if rule.matches(channel, type_, urgency):
                return rule
        raise PolicyError(
            f"{self.path.name}：没有适用于 渠道={channel} 类型={type_} 紧急程度={urgency} 的时限规则"
        )

    def return_reason(self, code: str) -> ReturnReason | None:
        return next((r for r in self.return_reasons if r.code == code), None)

    def label_rule(self, label: str) -> LabelRule | None:
        bare = label.strip("【】[] ")
        return next((r for r in self.labels if r.name == bare), None)

    def group_for(self, unit_codes: list[str]) -> UnitGroup | None:
        """The first group containing the unit or one of its ancestors (codes given leaf first)."""
        for group in self.unit_groups:
            if any(code in group.units for code in unit_codes):
                return group
        return None

    def type_label(self, code: str) -> str:
        return self.types.get(code, code)

    def urgency_label(self, code: str) -> str:
        return self.urgencies.get(code, code)

    def channel_label(self, code: str) -> str:
        return self.channels.get(code, code)

    def triage_class(self, code: str) -> TriageClass | None:
        return next((c for c in self.triage if c.code == code), None)


class _Reader:
    """Typed access to a TOML table that names the file and the dotted key in every error."""

    def __init__(self, data: dict[str, Any], origin: str, prefix: str = "") -> None:
        self.data = data
        self.origin = origin
        self.prefix = prefix

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, msg: str) -> PolicyError:
        return PolicyError(f"策略文件 {self.origin} 的 {self.key(name)}：{msg}")

    def has(self, name: str) -> bool:
        return name in self.data

    def table(self, name: str, required: bool = True) -> _Reader:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "缺少该表")
            value = {}
        if not isinstance(value, dict):
            raise self.fail(name, "应为表（[section]）")
        return _Reader(value, self.origin, f"{self.key(name)}.")

    def tables(self, name: str, required: bool = True) -> list[_Reader]:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, "缺少该数组表（[[...]]）")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(name, "应为数组表（[[...]]）")
        return [_Reader(v, self.origin, f"{self.key(name)}[{i}].") for i, v in enumerate(value)]

    def text(self, name: str, default: str | None = None) -> str:
        value = self.data.get(name, default)
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.fail(
                name, "应为非空字符串" if name not in self.data else f"应为字符串，实际为 {value!r}"
            )
        return value

    def integer(self, name: str, default: int | None = None, minimum: int = 0) -> int:
        value = self.data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "缺少该整数" if name not in self.data else f"应为整数，实际为 {value!r}")
        if value < minimum:
            raise self.fail(name, f"应不小于 {minimum}，实际为 {value}")
        return value

    def flag(self, name: str, default: bool | None = None) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(name, "应为 true 或 false")
        return value

    def strs(
        self, name: str, allowed: tuple[str, ...] | None = None, default: list[str] | None = None
    ) -> list[str]:
        value = self.data.get(name, default)
        if value is None:
            raise self.fail(name, "缺少该列表")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(name, "应为字符串列表")
        if allowed is not None:
            for i, v in enumerate(value):
                if v not in allowed:
                    raise self.fail(f"{name}[{i}]", f"未知的取值 {v!r}，可选：{'、'.join(allowed)}")
        return list(value)

    def mapping(self, name: str, default: dict[str, str] | None = None) -> dict[str, str]:
        value = self.data.get(name, default)
        if value is None:
            raise self.fail(name, "缺少该表")
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(name, '应为 代码 = "中文名" 的表')
        return dict(value)

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(name, default)
        if value not in allowed:
            raise self.fail(name, f"未知的取值 {value!r}，可选：{'、'.join(allowed)}")
        return value

    def period(self, name: str, required: bool = True) -> Period | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.fail(name, '缺少时限（{ amount = N, unit = "hours|wd|days" }）')
            return None
        if not isinstance(value, dict):
            raise self.fail(name, '时限应写作 { amount = N, unit = "hours|wd|days" }')
        sub = _Reader(value, self.origin, f"{self.key(name)}.")
        amount = sub.integer("amount", minimum=1)
        unit = sub.choice("unit", ("hours", "wd", "days"))
        return Period(amount, cast(PeriodUnit, unit))

    def codes(self, name: str, allowed: tuple[str, ...], known: dict[str, str]) -> frozenset[str] | None:
        if name not in self.data:
            return None
        values = self.strs(name, allowed)
        for i, v in enumerate(values):
            if v not in known:
                raise self.fail(f"{name}[{i}]", f"{v!r} 不在本策略定义的代码中")
        return frozenset(values)


def _compile(reader: _Reader, name: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for i, pattern in enumerate(reader.strs(name)):
        try:
            out.append(re.compile(pattern))
        except re.error as exc:
            raise reader.fail(f"{name}[{i}]", f"正则表达式错误：{exc}") from None
    return tuple(out)


def parse_policy(text: str, origin: str, path: Path | None = None) -> Policy:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"策略文件 {origin} 不是合法的 TOML：{exc}") from None
    r = _Reader(raw, origin)
    prof = r.table("profile")
    types = r.mapping("types")
    channels = r.mapping("channels")
    urgencies = r.mapping("urgencies")
    for key, mapping, allowed in (
        ("types", types, TYPE_CODES),
        ("channels", channels, CHANNEL_CODES),
        ("urgencies", urgencies, URGENCY_CODES),
    ):
        if not mapping:
            raise r.fail(key, "不能为空")
        for code in mapping:
            if code not in allowed:
                raise r.fail(f"{key}.{code}", f"未知的代码，可选：{'、'.join(allowed)}")

    dl = r.table("deadline")
    wd_start = cast(StartRule, dl.choice("wd_start", ("same_time", "next_day")))
    rules = []
    for rule in dl.tables("rules"):
        period = rule.period("period")
        assert period is not None
        rules.append(
            DeadlineRule(
                rule.codes("channels", CHANNEL_CODES, channels),
                rule.codes("types", TYPE_CODES, types),
                rule.codes("urgencies", URGENCY_CODES, urgencies),
                period,
                rule.text("cite"),
            )
        )
    if not rules:
        raise dl.fail("rules", "至少需要一条时限规则")
    for ch in channels:
        for ty in types:
            for ur in urgencies:
                if not any(x.matches(ch, ty, ur) for x in rules):
                    raise dl.fail(
                        "rules", f"没有规则覆盖 渠道={ch} 类型={ty} 紧急程度={ur}（请补充或加一条兜底规则）"
                    )

    disp = r.table("dispatch", required=False)
    acc = r.table("accept", required=False)
    ret = r.table("return")
    reasons = []
    for rr in ret.tables("reasons"):
        required = rr.strs("required", tuple(RETURN_FIELDS))
        reasons.append(
            ReturnReason(
                rr.text("code"),
                rr.text("label"),
                tuple(required),
                rr.text("cite"),
                rr.flag("no_repeat", False),
            )
        )
    codes = [x.code for x in reasons]
    if len(set(codes)) != len(codes):
        raise ret.fail("reasons", "退单理由代码重复")
    labels = []
    for lr in r.tables("labels", required=False):
        labels.append(
            LabelRule(
                lr.text("name"),
                cast(LabelReturn, lr.choice("returns", ("allowed", "discouraged", "consent"))),
                lr.flag("extension_forbidden", False),
                lr.text("cite"),
            )
        )
    groups = []
    for gr in r.tables("unit_groups", required=False):
        groups.append(
            UnitGroup(
                gr.text("name"),
                frozenset(gr.strs("units")),
                gr.period("return_window", required=False),
                gr.period("return_window_complex", required=False),
                gr.period("accept_limit", required=False),
                gr.text("cite"),
            )
        )

    ext = r.table("extension")
    extension = ExtensionRules(
        enabled=ext.flag("enabled", True),
        max_count=ext.integer("max_count", minimum=0),
        lead=ext.period("lead", required=False),
        forbidden_types=frozenset(ext.strs("forbidden_types", TYPE_CODES, [])),
        forbidden_urgencies=frozenset(ext.strs("forbidden_urgencies", URGENCY_CODES, [])),
        required=tuple(ext.strs("required", tuple(EXTENSION_FIELDS), [])),
        consent_required=ext.flag("consent_required", False),
        cite=ext.text("cite"),
        cite_count=ext.text("cite_count", ext.text("cite")),
        cite_lead=ext.text("cite_lead", ext.text("cite")),
        cite_forbidden=ext.text("cite_forbidden", ext.text("cite")),
    )

    stop = r.table("stop")
    rep = r.table("reply")
    elements = []
    for el in rep.tables("elements", required=False):
        elements.append(ReplyElement(el.text("code"), el.text("label"), _compile(el, "patterns")))
    reply = ReplyRules(
        elements=tuple(elements),
        vague_only=tuple(rep.strs("vague_only", default=[])),
        process_phrases=tuple(rep.strs("process_phrases", default=[])),
        template_phrases=tuple(rep.strs("template_phrases", default=[])),
        return_reason_phrases=tuple(rep.strs("return_reason_phrases", default=[])),
        min_chars=rep.integer("min_chars", 0),
        cite=rep.text("cite"),
        sent_back_cite=rep.text("sent_back_cite"),
        cite_elements=rep.text("cite_elements", rep.text("cite")),
        cite_quality=rep.text("cite_quality", rep.text("cite")),
        cite_vague=rep.text("cite_vague", rep.text("cite")),
        cite_process=rep.text("cite_process", rep.text("cite")),
        cite_template=rep.text("cite_template", rep.text("cite")),
        cite_return_reason=rep.text("cite_return_reason", rep.text("cite")),
        privacy_scan=tuple(
            rep.strs("privacy_scan", allowed=("id_number", "mobile", "plate"), default=list(DEFAULT_PII_SCAN))
        ),
        cite_privacy=rep.text("cite_privacy", rep.text("cite")),
        contact_cues=tuple(rep.strs("contact_cues", default=list(DEFAULT_CONTACT_CUES))),
    )

    cb = r.table("callback")
    callback = CallbackRules(
        exempt_anonymous=cb.flag("exempt_anonymous"),
        exempt_no_reply=cb.flag("exempt_no_reply"),
        dissatisfied_exempt_reasons=cb.mapping("dissatisfied_exempt_reasons", {}),
        max_attempts=cb.integer("max_attempts", minimum=1),
        rehandle_max=cb.integer("rehandle_max", minimum=0),
        rehandle_extension=cb.flag("rehandle_extension"),
        cite=cb.text("cite"),
        cite_rehandle=cb.text("cite_rehandle"),
        cite_exempt=cb.text("cite_exempt", cb.text("cite")),
        sample_percent=cb.integer("sample_percent", 10),
        retry_minutes=cb.integer("retry_minutes", 30, minimum=1),
        cite_sample=cb.text("cite_sample", "天津交通运输委规程第十七条"),
    )

    ap = r.table("appeal")
    appeal = AppealRules(
        window=cast(
            AppealWindow, ap.choice("window", ("none", "monthly_day", "days_after_rating", "disabled"))
        ),
        day=ap.integer("day", 0),
        postpone_on_non_workday=ap.flag("postpone_on_non_workday", False),
        exclusions=ap.mapping("exclusions", {}),
        cite=ap.text("cite"),
        cite_window=ap.text("cite_window", ap.text("cite")),
    )
    if appeal.window == "monthly_day" and not 1 <= appeal.day <= 28:
        raise ap.fail("day", "monthly_day 需要 1..28 之间的日期")

    triage = []
    for tc in r.tables("triage", required=False):
        code = tc.choice("code", TRIAGE_CLASSES)
        triage.append(
            TriageClass(
                code,
                tc.text("label"),
                tc.text("route"),
                tuple(tc.strs("keywords", default=[])),
                tc.text("cite"),
                tc.text("number", ""),
                tuple(tc.strs("topics", default=[])),
                tuple(tc.strs("context", default=[])),
                tuple(tc.strs("negations", default=[])),
                tuple(tc.strs("excludes", default=[])),
            )
        )
        if triage[-1].topics and not triage[-1].context:
            raise tc.fail("context", "写了 topics 就必须写 context（话题词须与情境词同现才计入）")
        if code == "emergency" and not triage[-1].number:
            raise tc.fail("number", "紧急类分流必须写明转接号码（110/119/120/122）")

    repeat = _repeat_rules(r.table("repeat"))

    known = {
        "profile", "types", "channels", "urgencies", "deadline", "dispatch", "accept", "return", "labels",
        "unit_groups", "extension", "stop", "reply", "callback", "appeal", "triage", "co_units", "repeat",
    }  # fmt: skip
    extra = {k: v for k, v in raw.items() if k not in known}
    co = r.table("co_units", required=False)

    return Policy(
        name=prof.text("name"),
        title=prof.text("title"),
        regulation=prof.text("regulation"),
        ticket_prefix=prof.text("ticket_prefix"),
        path=path or Path(origin),
        types=types,
        channels=channels,
        urgencies=urgencies,
        wd_start=wd_start,
        deadline_rules=tuple(rules),
        deadline_cite=dl.text("cite"),
        dispatch_limit=disp.period("limit", required=False),
        dispatch_cite=disp.text("cite", ""),
        accept_limit=acc.period("limit", required=False),
        accept_cite=acc.text("cite", ""),
        return_window=cast(Period, ret.period("window")),
        return_window_complex=ret.period("window_complex", required=False),
        return_cite=ret.text("cite"),
        return_reasons=tuple(reasons),
        return_review_cite=ret.text("review_cite"),
        designation_after=ret.integer("designation_after", minimum=1),
        designation_cite=ret.text("designation_cite"),
        designation_consult_required=ret.flag("designation_consult_required", True),
        labels=tuple(labels),
        unit_groups=tuple(groups),
        extension=extension,
        stop_enabled=stop.flag("enabled"),
        stop_reasons=stop.mapping("reasons", {}),
        stop_cite=stop.text("cite"),
        reply=reply,
        lead_waits_for_co=co.flag("lead_waits_for_co", False),
        co_reply_cite=co.text("cite", ""),
        callback=callback,
        appeal=appeal,
        triage=tuple(triage),
        repeat=repeat,
        extra=extra,
    )


def _repeat_rules(rp: _Reader) -> RepeatRules:
    value = rp.data.get("min_similarity")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise rp.fail(
            "min_similarity",
            "缺少相似度阈值" if value is None else f"应为 0 到 1 之间的数，实际为 {value!r}",
        )
    if not 0 < value <= 1:
        raise rp.fail("min_similarity", f"应在 0 到 1 之间（不含 0），实际为 {value}")
    labels = rp.strs("abuse_labels", default=[])
    return RepeatRules(
        window_days=rp.integer("window_days", minimum=1),
        min_similarity=float(value),
        similar_days=rp.integer("similar_days", minimum=1),
        abuse_calls=rp.integer("abuse_calls", minimum=2),
        abuse_days=rp.integer("abuse_days", minimum=1),
        cite=rp.text("cite"),
        cite_done=rp.text("cite_done", rp.text("cite")),
        abuse_cite=rp.text("abuse_cite"),
        abuse_labels=tuple(x.strip("【】[] ") for x in labels if x.strip("【】[] ")),
    )


def available() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.toml"))


def load_policy_file(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"无法读取策略文件 {path}：{exc.strerror}") from None
    return parse_policy(text, str(path), path)


@lru_cache(maxsize=16)
def load_policy(name: str = DEFAULT_POLICY) -> Policy:
    """Load a shipped profile by name, or a profile file by path."""
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.exists():
        return load_policy_file(candidate)
    path = POLICY_DIR / f"{name}.toml"
    if not path.exists():
        raise PolicyError(f"未知的策略配置：{name}（可用：{'、'.join(available())}）")
    return load_policy_file(path)
