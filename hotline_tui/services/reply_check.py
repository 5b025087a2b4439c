"""Check a unit's reply (办结答复) against the profile's reply rules (TTR 16; GZ 19).

Pure functions: no store, no UI. Each finding names the article it breaks.

- every required element of ``policy.reply.elements`` must be found (TTR 16(1); GZ 19 third para (2));
- a reply made essentially of vague phrases such as 「已联系」「已解决」 is refused (TTR 16(4)) — a full
  account that merely contains 「已联系」 is not: what is left after removing such phrases and
  officialese filler (the *substance*) decides;
- a process answer (「办理中」「已转xx处理」) with no result is refused (TTR 16(5));
- a template answer (「已与您取得联系……」) without substance is refused (TTR 16(6));
- a return reason given as the result is refused (TTR 16(3));
- a reply that is too short or has no substance at all is refused (TTR 16(2));
- a reply that carries other people's ID numbers, mobile numbers or plate numbers is refused (T24 19):
  the caller's own data and what the caller said are known to the caller; a phone number in a clause
  that names the handling staff (「工作人员王明，电话……」) is the contact TTR 16(1) asks for.

Phrases in the profile are literal text, except that ``xx`` and ``……`` stand for any short text inside
one sentence (「已转xx处理」 matches 「已转区住建委处理」).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from hotline_tui.policy import Policy, ReplyRules
from hotline_tui.privacy import PII_KIND_LABELS, find_pii

WILDCARDS = re.compile(r"xx|XX|……|\.\.\.")
WILDCARD_SPAN = r"[^。；;！!？?\n]{0,20}?"
CLAUSE_MARKS = "，,。；;！!？?\n"
CLAUSE_SPLIT = re.compile(r"[，,。；;！!？?\n]+")
MEANINGFUL = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

# A reply with fewer meaningful characters than this left after removing vague, template and process
# phrases and the filler below says nothing (TTR 16(2), (4)).
SUBSTANCE_MIN = 10

# Officialese that carries no fact: greetings, thanks, stock verbs of 'we will look into it'.
# Longest first, so that 「您反映的」 goes before 「反映」.
FILLER = tuple(
    sorted(
        {
            "您好", "你好", "尊敬的", "市民", "诉求人", "来电人", "反映人", "群众", "当事人", "您", "你",
            "我们", "我单位", "本单位", "我局", "我委", "我中心", "我办", "所反映", "反映", "来电",
            "问题", "情况", "诉求", "事项", "事宜", "相关", "有关", "部门", "政策", "规定", "工作",
            "感谢", "谢谢", "支持", "理解", "关注", "配合", "监督", "高度重视", "重视", "认真", "积极",
            "妥善", "及时", "尽快", "进一步", "加强", "研究", "落实", "处理", "解决", "联系", "已经",
            "予以", "进行", "做好", "给予", "按照", "依法", "依规", "管理", "跟进", "后续", "继续",
            "再次", "表示", "收悉", "取得", "告知", "解释", "答复", "回复", "办理", "核实", "了解",
            "满意", "同意", "认可", "一定", "努力", "争取", "力争", "目前", "现在", "已", "经", "将",
            "会", "并", "和", "与", "及", "对", "向", "给", "把", "了", "的", "地", "得", "此", "该",
            "其", "这", "是", "在", "为", "等", "好", "中", "请", "再", "也", "都", "就", "后",
        },
        key=len,
        reverse=True,
    )
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    rule: str  # the article cited
    code: str  # missing:<element> | vague_only | process_only | template | return_reason | too_short | vague | empty
    message: str  # Chinese, shown as it is

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ReplyCheck:
    ok: bool
    findings: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "findings": [{"rule": f.rule, "message": f.message} for f in self.findings]}


def normalize(text: str) -> str:
    """Full-width letters and digits to ASCII (０２２ → 022); Chinese punctuation is kept as written."""
    return "".join(unicodedata.normalize("NFKC", ch) if ch.isalnum() else ch for ch in text).strip()


def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A profile phrase as a regex: literal text, ``xx``/``……`` = any short text within one sentence."""
    pieces = [re.escape(p) for p in WILDCARDS.split(phrase.strip())]
    while pieces and not pieces[-1]:
        pieces.pop()
    while pieces and not pieces[0]:
        pieces.pop(0)
    return re.compile(WILDCARD_SPAN.join(pieces))


def _found(text: str, phrases: tuple[str, ...]) -> list[str]:
    out = []
    for phrase in phrases:
        m = phrase_pattern(phrase).search(text)
        if m and m.group(0):
            out.append(m.group(0))
    return out


def _strip(text: str, phrases: tuple[str, ...]) -> str:
    for phrase in phrases:
        pattern = phrase_pattern(phrase)
        if pattern.pattern:
            text = pattern.sub(" ", text)
    return text


def substance(text: str, rules: ReplyRules) -> str:
    """What the reply says once vague, template and process phrases and officialese filler are gone."""
    rest = _strip(text, rules.vague_only + rules.template_phrases + rules.process_phrases)
    for word in FILLER:
        rest = rest.replace(word, " ")
    return "".join(MEANINGFUL.findall(rest))


def _bigrams(text: str) -> set[str]:
    chars = "".join(MEANINGFUL.findall(text))
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def _similar(sentence: str, reason: str) -> bool:
    a, b = _bigrams(sentence), _bigrams(reason)
    if len(a) < 3 or len(b) < 3:
        return False
    return len(a & b) / min(len(a), len(b)) >= 0.6


def _has_element(text: str, rules: ReplyRules, code: str) -> bool:
    element = next((e for e in rules.elements if e.code == code), None)
    return element is not None and any(p.search(text) for p in element.patterns)


def _known_keys(known: Iterable[str]) -> set[str]:
    """Every ID, phone and plate number the caller gave (their own fields and their words)."""
    keys: set[str] = set()
    for value in known:
        if not value:
            continue
        value = normalize(value)
        keys.update(h.key for h in find_pii(value))
        keys.add("".join(ch for ch in value if ch.isalnum()).upper())
    return keys


def _is_staff_contact(body: str, start: int, cues: tuple[str, ...]) -> bool:
    """A number is the staff's contact when its clause names the staff or says 联系电话; a bare
    「电话：」 clause right after one naming the staff counts too (「承办人王明，电话：138……」)."""
    cut = max(body.rfind(ch, 0, start) for ch in CLAUSE_MARKS)
    clause = body[cut + 1 : start]
    if any(cue in clause for cue in cues):
        return True
    if len(clause.strip()) <= 6 and cut > 0:
        prev_cut = max(body.rfind(ch, 0, cut) for ch in CLAUSE_MARKS)
        return any(cue in body[prev_cut + 1 : cut] for cue in cues)
    return False


def privacy_findings(body: str, rules: ReplyRules, known: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kind, masked value) for each piece of other people's personal data in ``body`` (T24 19)."""
    if not rules.privacy_scan:
        return []
    keys = _known_keys(known)
    out: list[tuple[str, str]] = []
    for hit in find_pii(body, rules.privacy_scan):
        if hit.key in keys:
            continue
        if hit.kind == "mobile" and _is_staff_contact(body, hit.start, rules.contact_cues):
            continue
        out.append((hit.kind, hit.masked))
    return out


def check_reply(
    text: str,
    policy: Policy,
    *,
    return_reason_texts: list[str] | None = None,
    known: Iterable[str] = (),
) -> ReplyCheck:
    """Check one reply; ``return_reason_texts`` are the reasons of earlier return requests of the order,
    ``known`` the caller's own data and demand text (numbers from there may be repeated to the caller)."""
    rules = policy.reply
    body = normalize(text)
    findings: list[Finding] = []

    def add(rule: str, code: str, message: str) -> None:
        findings.append(Finding(rule, code, f"{message}（{rule}）"))

    if not MEANINGFUL.search(body):
        add(rules.cite_quality, "empty", "答复内容为空")
        return ReplyCheck(False, findings)

    for element in rules.elements:
        if not any(p.search(body) for p in element.patterns):
            add(rules.cite_elements, f"missing:{element.code}", f"缺少要素：{element.label}")

    said = substance(body, rules)
    thin = len(said) < SUBSTANCE_MIN
    missing = sum(1 for f in findings if f.code.startswith("missing:"))
    has_result = _has_element(body, rules, "result")
    explained = False

    vague = _found(body, rules.vague_only)
    if vague and thin:
        quoted = "」「".join(dict.fromkeys(vague))
        add(rules.cite_vague, "vague_only", f"答复仅为「{quoted}」等笼统表述，未说明办理经过和结果")
        explained = True

    process = _found(body, rules.process_phrases)
    if process and not has_result:
        add(rules.cite_process, "process_only", f"以过程性表述「{process[0]}」作为办理结果，未办结先答复")
        explained = True

    template = _found(body, rules.template_phrases)
    if template and (thin or missing >= 2):
        add(rules.cite_template, "template", f"使用模板式答复「{template[0]}」，未写明具体办理情况")
        explained = True

    # clauses saying what a return request would say; the result must come from the other clauses
    parts = [c for c in CLAUSE_SPLIT.split(body) if c.strip()]
    reasons = [c for r in (return_reason_texts or []) for c in CLAUSE_SPLIT.split(r) if len(c.strip()) >= 4]
    as_reason = [
        c
        for c in parts
        if _found(c, rules.return_reason_phrases) or any(r in c or _similar(c, r) for r in reasons)
    ]
    if as_reason:
        rest = "，".join(c for c in parts if c not in as_reason)
        if not _has_element(rest, rules, "result"):
            add(
                rules.cite_return_reason,
                "return_reason",
                f"以退回理由「{as_reason[0].strip()[:30]}」作为办理结果",
            )
            explained = True

    for kind, masked in privacy_findings(body, rules, known):
        add(
            rules.cite_privacy,
            f"privacy:{kind}",
            f"答复含有他人的{PII_KIND_LABELS[kind]}「{masked}」，不得泄露个人信息，请删去",
        )

    if not explained:
        meaningful = len(MEANINGFUL.findall(body))
        if meaningful < rules.min_chars:
            add(rules.cite_quality, "too_short", f"答复过于简单（{meaningful}字，少于{rules.min_chars}字）")
        elif thin:
            add(rules.cite_quality, "vague", "答复空泛、文不对题或办理结果模糊不清，未说明具体办理情况")

    return ReplyCheck(not findings, findings)
