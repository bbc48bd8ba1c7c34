"""Opening hours: free text (mostly Chinese) to OpenStreetMap ``opening_hours``, and evaluation.

``normalise`` reads what people actually type into a spreadsheet, such as ``周一至周日;7：30-11：30；14:00-17:00``
or ``上午8:00-11:30 下午1:30-4:30``, and writes it as OSM syntax (``Mo-Su 07:30-11:30,14:00-17:00``). It never
guesses: text with words it does not know, a range that could be read on a 12-hour or a 24-hour clock, or ranges
that overlap is kept verbatim and flagged with a note instead. ``is_open`` and ``next_change`` evaluate OSM
strings with the ``opening_hours`` library (Chinese public holidays for ``PH``), caching each parsed string.

Free text differs from OSM in one way that matters: ``8:30-11:00;17:30-20:30`` is valid OSM, but there the second
rule replaces the first, while the writer meant both ranges. Such text goes through the free-text reader.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import opening_hours

__all__ = ["TZ", "NormalisedHours", "normalise", "is_valid", "is_open", "next_change"]

TZ = ZoneInfo("Asia/Shanghai")
COUNTRY = "CN"  # public-holiday calendar behind ``PH``
MAX_TEXT_CHARS = 500

_DAY_CODES = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_ALL_DAYS = frozenset(range(7))
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class NormalisedHours:
    """Free-text opening hours as read: OSM syntax when understood, the original text always."""

    osm: str | None  # OpenStreetMap opening_hours syntax, validated by the library; None when not understood
    original: str  # the text as given, verbatim (never dropped)
    understood: bool  # False: kept verbatim and flagged
    note: str = ""  # why not understood


class _NotUnderstood(Exception):
    """Internal: the reader gives up; the message becomes the note."""


# --------------------------------------------------------------------------------------------------------------
# Evaluation


@functools.lru_cache(maxsize=8192)
def _parsed(osm: str) -> opening_hours.OpeningHours | None:
    """The library's parse of an OSM string, or None when it is blank or invalid (cached by string)."""
    if not osm.strip():  # the library reads a blank string as 24/7
        return None
    try:
        return opening_hours.OpeningHours(osm, timezone=TZ, country=COUNTRY)
    except Exception:  # ParserError, and SyntaxError per the library's own docs
        return None


def is_valid(osm: str) -> bool:
    """True when ``osm`` is non-blank OpenStreetMap opening_hours syntax the library can evaluate."""
    return isinstance(osm, str) and _parsed(osm) is not None


def _local(at: datetime) -> datetime:
    """``at`` as an aware Asia/Shanghai datetime; naive datetimes are taken to be Asia/Shanghai already."""
    if at.tzinfo is None or at.utcoffset() is None:
        return at.replace(tzinfo=TZ)
    return at.astimezone(TZ)  # the library only takes ZoneInfo, not datetime.timezone


def is_open(osm: str | None, at: datetime) -> bool | None:
    """Whether the place is open at ``at``; None when the hours are unknown, empty or unparseable."""
    parsed = _parsed(osm) if isinstance(osm, str) else None
    if parsed is None:
        return None
    state, _comment = parsed.state(_local(at))
    if state == opening_hours.State.OPEN:
        return True
    if state == opening_hours.State.CLOSED:
        return False
    return None


def next_change(osm: str | None, at: datetime) -> datetime | None:
    """When the open/closed state next changes after ``at`` (Asia/Shanghai); None if never, or hours unknown."""
    parsed = _parsed(osm) if isinstance(osm, str) else None
    if parsed is None:
        return None
    change = parsed.next_change(_local(at))
    return None if change is None else _local(change)


# --------------------------------------------------------------------------------------------------------------
# Reading free text: clean-up, tokens, rules, OSM


def normalise(text: str | None) -> NormalisedHours:
    """Read free-text opening hours into OSM syntax; never raises on user text.

    Already-valid OSM (zero-padded times, no rule that is only a time after ``;``) passes through verbatim.
    Everything else is read as free text; what cannot be read without guessing comes back with
    ``understood=False``, ``osm=None`` and a note saying why.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return NormalisedHours(osm=None, original="", understood=False, note="empty")
    original = text if isinstance(text, str) else str(text)
    stripped = original.strip()
    if not stripped:
        return NormalisedHours(osm=None, original=original, understood=False, note="empty")
    if len(stripped) > MAX_TEXT_CHARS:
        return NormalisedHours(osm=None, original=original, understood=False,
                               note=f"longer than {MAX_TEXT_CHARS} characters")
    if _looks_like_osm(stripped):
        return NormalisedHours(osm=stripped, original=original, understood=True)
    try:
        osm = _read_free_text(stripped)
    except _NotUnderstood as exc:
        return NormalisedHours(osm=None, original=original, understood=False, note=str(exc))
    except Exception as exc:  # a bug in the reader must not take an import down; the note says so
        return NormalisedHours(osm=None, original=original, understood=False,
                               note=f"internal error: {type(exc).__name__}: {exc}")
    if not is_valid(osm):
        return NormalisedHours(osm=None, original=original, understood=False,
                               note=f"internal error: produced invalid OSM {osm!r}")
    return NormalisedHours(osm=osm, original=original, understood=True)


_OSM_TIME = re.compile(r"\d\d:\d\d|24/7|sunrise|sunset|dawn|dusk")
_UNPADDED_TIME = re.compile(r"(?<![\d:])\d:\d\d")
_TIME_ONLY_RULE = re.compile(r";\s*\d")


def _looks_like_osm(text: str) -> bool:
    """Valid OSM written on purpose: the library accepts it and it does not read differently as free text."""
    return (
        text.isascii()
        and _OSM_TIME.search(text) is not None  # "2022", "Mo" and "off" are valid OSM but say no hours
        and _UNPADDED_TIME.search(text) is None  # "8:00-5:00" is free text; read it as such
        and _TIME_ONLY_RULE.search(text) is None  # "08:00-11:00; 14:00-17:00" means both ranges
        and is_valid(text)
    )


# Characters that separate a range: 至 到 - — – ~ ～ (and runs of them, "------", "——", "--").
_RANGE_CHARS = re.compile(r"\s*[-\u2010-\u2015\u2212\u2500\u2501~\u301c\uff5e至到]+\s*")
# "17；00": a semicolon typed for a colon; only whole quarters, and only at exactly one end of a range.
_SEMICOLON_MINUTES = re.compile(r"(?<![\d:.])(\d{1,2});(00|15|30|45)(?![\d:.])")
# "14:00:16:30": a colon typed for the range dash between two times.
_COLON_RANGE = re.compile(r"(?<![\d:.])(\d{1,2}:\d{2}):(\d{1,2}:\d{2})(?![\d:.])")


def _clean(text: str) -> str:
    """Fold full-width forms, unify range dashes, and repair the two common typos that have one reading."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\bto\b", "-", text)
    text = _RANGE_CHARS.sub("-", text)
    text = _SEMICOLON_MINUTES.sub(_semicolon_as_colon, text)
    return _COLON_RANGE.sub(r"\1-\2", text)


def _semicolon_as_colon(m: re.Match[str]) -> str:
    after_dash = m.string[: m.start()].rstrip().endswith("-")
    before_dash = m.string[m.end():].lstrip().startswith("-")
    return f"{m.group(1)}:{m.group(2)}" if after_dash != before_dash else m.group(0)


# ---- tokens


@dataclass
class _Tok:
    kind: str  # DAYS, H24 (round the clock), OFF, TIME, RANGE, NEXTDAY (次日), PERIOD (上午/下午), LIST, SEP
    text: str
    days: frozenset[int] = frozenset()
    ph: bool = False
    minute: int = 0  # TIME: minutes after midnight
    period: str = ""  # PERIOD: am, pm, noon, early; TIME: am/pm given inline ("8pm")


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "七": 6,
               "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}

_WEEKDAYS = frozenset(range(5))
_WEEKEND = frozenset({5, 6})

# Words, matched longest first. Each maps to (kind, days, ph).
_WORDS: dict[str, tuple[str, frozenset[int], bool]] = {}


def _words(kind: str, words: str, days: frozenset[int] = frozenset(), ph: bool = False) -> None:
    for word in words.split():
        _WORDS[word] = (kind, days, ph)


_words("DAYS", "每天 每日 天天 全周 全年 常年 全年无休 常年无休 全年不停 常年不停 无休 daily everyday", _ALL_DAYS)
_words("DAYS", "工作日 weekdays weekday", _WEEKDAYS)
_words("DAYS", "周末 双休日 weekends weekend", _WEEKEND)
_words("DAYS", "节假日 法定节假日 法定假日 节日 假日 ph holidays holiday", ph=True)
_words("OFF", "休息 休 关闭 闭馆 不开放 不营业 停诊 暂停 除外 closed off")
_words("H24", "全天 全天候")
_words("NEXTDAY", "次日 翌日 第二天 隔天 隔日 次晨")
_words("PERIOD:am", "上午 早上 早晨 清晨 am")
_words("PERIOD:early", "凌晨")
_words("PERIOD:noon", "中午 午间")
_words("PERIOD:pm", "下午 午后 傍晚 晚上 晚间 pm")
_words("LIST", "和 及 与 以及 and")
_words("FILLER", "对外 开放 营业 服务 工作 办公 时间 时段 均 都 正常 open hours")
for _i, _names in enumerate(("mo mon monday", "tu tue tues tuesday", "we wed weds wednesday",
                             "th thu thur thurs thursday", "fr fri friday", "sa sat saturday", "su sun sunday")):
    _words("DAYS", _names, frozenset({_i}))

_CJK_WORDS = re.compile("|".join(sorted((re.escape(w) for w in _WORDS if not w.isascii()), key=len,
                                        reverse=True)))
_LATIN_WORD = re.compile(r"[a-z]+")
_H24 = re.compile(r"(?:24|二十四)\s*(?:个)?(?:小时|hours?\b|hrs?\b|h\b)|24\s*/\s*7")
_DAY = re.compile(r"(?:每)?(?:周|星期|礼拜)\s*([一二三四五六日天七1-7])")
_TIME = re.compile(
    r"""(?P<h>\d{1,2})
        (?: \s*[:.]{1,2}\s*(?P<m>\d{2})(?!\d)           # 8:00  08.00  11::00
          | \s*[点时](?:(?P<half>半)|(?P<m2>\d{1,2})(?!\d)\s*分?|整)?  # 8点  8点半  8点30分
        )?
        (?!\d)
        (?:\s*(?P<ampm>[ap])\.?m\b\.?)?                 # 8am  8:30 p.m.
    """,
    re.VERBOSE,
)
_CN_TIME = re.compile(r"([零〇一二两三四五六七八九十]{1,3})[点时](?:(半)|([零〇一二三四五六七八九十]{1,3})分|整)?")
_UNKNOWN_DIGITS = re.compile(r"\d+")
_SEPARATORS = frozenset(";。.:?()[]【】{}|!\"'“”‘’*#\n\r\t ")
_LIST_CHARS = frozenset("、,/&+")


def _cn_number(text: str) -> int | None:
    """Chinese numerals up to 59: 八, 十二, 二十, 二十四, 三十."""
    if "十" not in text:
        return _CN_DIGITS.get(text) if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if "十" in ones or (tens and tens not in _CN_DIGITS) or (ones and ones not in _CN_DIGITS):
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


def _time_token(text: str, hour: int, minute: int, ampm: str = "") -> _Tok:
    if minute > 59 or hour > 24 or (hour == 24 and minute):
        raise _NotUnderstood(f"not a time of day: {text.strip()!r}")
    if ampm:
        if hour == 0 or hour > 12:
            raise _NotUnderstood(f"not a 12-hour clock time: {text.strip()!r}")
        hour = hour % 12 + (12 if ampm == "p" else 0)
    return _Tok("TIME", text, minute=hour * 60 + minute, period="am" if ampm == "a" else "")


def _tokens(text: str) -> list[_Tok]:
    """Split cleaned text into tokens; raise naming every piece of text that is not understood."""
    toks: list[_Tok] = []
    unknown: list[tuple[int, int]] = []  # spans of text, adjacent ones merged
    i = 0
    while i < len(text):
        found, end = _token_at(text, i, day_context=_in_day_context(toks))
        if found is not None:
            toks.extend(found)
        elif unknown and unknown[-1][1] == i:
            unknown[-1] = (unknown[-1][0], end)
        else:
            unknown.append((i, end))
        i = end
    if unknown:
        raise _NotUnderstood("text not understood: " + ", ".join(repr(text[a:b]) for a, b in unknown))
    return toks


def _token_at(text: str, i: int, *, day_context: bool) -> tuple[list[_Tok] | None, int]:
    """The tokens at text[i] (empty for filler words, None when not understood) and where they end."""
    ch = text[i]
    if m := _H24.match(text, i):
        return [_Tok("H24", m.group())], m.end()
    if day_context and ch in "一二三四五六日天七" and not _CN_TIME.match(text, i):
        return [_Tok("DAYS", ch, days=frozenset({_CN_WEEKDAY[ch]}))], i + 1
    if m := _DAY.match(text, i):
        return [_Tok("DAYS", m.group(), days=frozenset({_CN_WEEKDAY[m.group(1)]}))], m.end()
    if m := _TIME.match(text, i):
        minute = int(m["m"] or m["m2"] or 0) + (30 if m["half"] else 0)
        return [_time_token(m.group(), int(m["h"]), minute, m["ampm"] or "")], m.end()
    if m := _CN_TIME.match(text, i):
        cn_hour = _cn_number(m.group(1))
        cn_minute = 30 if m.group(2) else (_cn_number(m.group(3)) if m.group(3) else 0)
        if cn_hour is None or cn_minute is None:
            raise _NotUnderstood(f"not a time of day: {m.group()!r}")
        return [_time_token(m.group(), cn_hour, cn_minute)], m.end()
    if (m := _CJK_WORDS.match(text, i)) or ((m := _LATIN_WORD.match(text, i)) and m.group() in _WORDS):
        return _word_token(m.group()), m.end()
    if m := _LATIN_WORD.match(text, i) or _UNKNOWN_DIGITS.match(text, i):
        return None, m.end()  # an unknown word or a number no time pattern took ("7:300"): report it whole
    if ch == "-":
        return [_Tok("RANGE", ch)], i + 1
    if ch in _LIST_CHARS:
        return [_Tok("LIST", ch)], i + 1
    if ch.isspace():
        end = i + 1
        while end < len(text) and text[end].isspace():
            end += 1
        return [], end  # spaces only separate; the tokens on either side carry the meaning
    if ch in _SEPARATORS:
        return [_Tok("SEP", ch)], i + 1
    return None, i + 1


def _word_token(word: str) -> list[_Tok]:
    kind, days, ph = _WORDS[word]
    if kind == "FILLER":
        return []
    if kind.startswith("PERIOD:"):
        return [_Tok("PERIOD", word, period=kind.partition(":")[2])]
    return [_Tok(kind, word, days=days, ph=ph)]


def _in_day_context(toks: list[_Tok]) -> bool:
    """After a weekday and a range or list mark, a bare 三 or 日 is a weekday too (周一至五, 周一、三、五)."""
    for tok in reversed(toks):
        if tok.kind in ("RANGE", "LIST"):
            continue
        return tok.kind == "DAYS" and len(tok.days) == 1
    return False


# ---- rules


@dataclass
class _Range:
    start: int  # minutes after midnight
    end: int  # minutes after midnight of the start day; > 1440 when past midnight
    am: bool  # an explicit morning mark (上午, am): rules out a 12-hour clock reading


@dataclass
class _Rule:
    days: frozenset[int] | None = None  # None: no days stated
    ph: bool = False
    ranges: list[_Range] = field(default_factory=list)
    h24: bool = False
    off: bool = False

    @property
    def has_content(self) -> bool:
        return bool(self.ranges) or self.h24 or self.off


def _read_free_text(text: str) -> str:
    """OSM for free text, or _NotUnderstood saying why not."""
    rules = _rules(_tokens(_clean(text)))
    return "; ".join(_rule_osm(rule) for rule in rules)


def _rules(toks: list[_Tok]) -> list[_Rule]:
    """Group tokens into rules: a day selector opens a rule; times, 24 h and 'closed' fill it."""
    rules: list[_Rule] = []
    current = _Rule()
    period = ""
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind == "DAYS":
            days, ph, i = _day_selector(toks, i)
            if current.has_content or current.days is not None or current.ph:
                rules.append(current)
            current = _Rule(days=days, ph=ph)
            period = ""
            continue
        if tok.kind == "PERIOD":
            after = next((t for t in toks[i + 1:] if t.kind != "SEP"), None)
            if after is None or after.kind != "TIME":
                raise _NotUnderstood(f"{tok.text!r} without a time after it")
            period = tok.period
        elif tok.kind == "TIME":
            rng, i = _time_range(toks, i, period)
            if all((rng.start, rng.end) != (r.start, r.end) for r in current.ranges):  # repeats are harmless
                _check_against(rng, current.ranges)
                current.ranges.append(rng)
            period = ""
            continue
        elif tok.kind == "H24":
            current.h24 = True
        elif tok.kind == "OFF":
            current.off = True
        elif tok.kind in ("RANGE", "NEXTDAY"):
            raise _NotUnderstood(f"{tok.text!r} without a time on both sides")
        i += 1  # SEP and LIST between rules and ranges carry no meaning of their own
    rules.append(current)
    return _checked(_attach_trailing_days(rules))


def _attach_trailing_days(rules: list[_Rule]) -> list[_Rule]:
    """"9:00-17:00（周一至周五）" and "全天24小时常年不停": days written after the times belong to them."""
    out: list[_Rule] = []
    for rule in rules:
        if (not rule.has_content and out and out[-1].days is None and not out[-1].ph
                and out[-1].has_content):
            out[-1].days, out[-1].ph = rule.days, rule.ph
        else:
            out.append(rule)
    return out


def _checked(rules: list[_Rule]) -> list[_Rule]:
    """Drop empty rules; refuse sets of rules that say nothing usable or contradict themselves."""
    rules = [r for r in rules if r.has_content or r.days is not None or r.ph]
    if not rules:
        raise _NotUnderstood("no times found")
    for rule in rules:
        if not rule.has_content:
            raise _NotUnderstood("days without times")
        if rule.off and (rule.ranges or rule.h24):
            raise _NotUnderstood("both times and 'closed' for the same days")
        if rule.off and rule.days is None and not rule.ph:
            raise _NotUnderstood("'closed' without saying when")  # a live status such as 休息, not hours
        if rule.h24 and rule.ranges:
            raise _NotUnderstood("both 24 hours and time ranges for the same days")
    if all(rule.off for rule in rules):  # "周末休息" alone says nothing about when it is open
        raise _NotUnderstood("only closing days, no opening times")
    return rules


def _day_selector(toks: list[_Tok], i: int) -> tuple[frozenset[int], bool, int]:
    """Read 周一至周五、周日 / 工作日 / 节假日 / Mon-Fri from toks[i]; return weekdays, PH and the next index."""
    days: set[int] = set()
    ph = False
    while True:
        tok = toks[i]
        ph = ph or tok.ph
        if (i + 2 < len(toks) and toks[i + 1].kind == "RANGE" and toks[i + 2].kind == "DAYS"
                and len(tok.days) == 1 and len(toks[i + 2].days) == 1 and not toks[i + 2].ph):
            first, last = min(tok.days), min(toks[i + 2].days)
            span = (last - first) % 7
            days.update((first + k) % 7 for k in range(span + 1))
            i += 3
        else:
            days.update(tok.days)
            i += 1
        if i < len(toks) and toks[i].kind == "DAYS":
            continue  # 周六日, "全年无休" after "周一至周日"
        if i + 1 < len(toks) and toks[i].kind == "LIST" and toks[i + 1].kind == "DAYS":
            i += 1
            continue
        return frozenset(days), ph, i


def _time_range(toks: list[_Tok], i: int, period: str) -> tuple[_Range, int]:
    """Read ``[PERIOD] TIME - [次日] [PERIOD] TIME`` starting at the first TIME, toks[i]."""
    start_tok = toks[i]
    i += 1
    if i >= len(toks) or toks[i].kind != "RANGE":
        raise _NotUnderstood(f"a time without a range: {start_tok.text.strip()!r}")
    i += 1
    next_day = False  # 次日: the end is on the next day
    end_period = ""
    while i < len(toks) and toks[i].kind in ("NEXTDAY", "PERIOD"):
        next_day = next_day or toks[i].kind == "NEXTDAY"
        end_period = toks[i].period or end_period
        i += 1
    if i >= len(toks) or toks[i].kind != "TIME":
        raise _NotUnderstood(f"a range without an end: {start_tok.text.strip()!r}")
    end_tok = toks[i]
    start = _apply_period(start_tok.minute, period)
    end = _apply_period(end_tok.minute, end_period or period)
    if not end_period and period in ("pm", "noon") and end <= start:
        # the start's 晚上 does not carry over past midnight: 晚上8点-12点 ends at 24:00, 晚上8点-2点 at 02:00
        end = _MINUTES_PER_DAY if end_tok.minute == 12 * 60 else end_tok.minute
    am = (period in ("am", "early") or start_tok.period == "am") and end_period != "pm"
    text = f"{start_tok.text.strip()}-{end_tok.text.strip()}"
    if start >= _MINUTES_PER_DAY:
        raise _NotUnderstood(f"a range starting at 24:00: {text!r}")
    if end == 0 and start > 0:
        end = _MINUTES_PER_DAY  # "18:00-0:00" ends at midnight
    if next_day:
        end += _MINUTES_PER_DAY
    elif end == start:
        end += _MINUTES_PER_DAY  # "8:00-8:00": round the clock, as OSM reads it
    elif end < start:
        # "14:00-5:00": 17:00, or 05:00 the next day? Only "22:00-2:00" (no 12-hour reading) or
        # "20:00-凌晨2:00" say past midnight without doubt.
        if end + 12 * 60 > start and end_period != "early":
            raise _NotUnderstood(f"ends before it starts, 12-hour clock or past midnight? {text!r}")
        end += _MINUTES_PER_DAY
    if end - start > _MINUTES_PER_DAY:
        raise _NotUnderstood(f"a range longer than a day: {text!r}")
    return _Range(start, end, am), i + 1


def _apply_period(minute: int, period: str) -> int:
    """Move a 12-hour clock time into the afternoon where 下午/晚上 (pm) or 中午 (noon) says so."""
    hour = minute // 60
    if period == "pm" and 1 <= hour < 12:
        return minute + 12 * 60
    if period == "noon" and 1 <= hour <= 5:  # 中午1点 is 13:00; 中午11:30 stays
        return minute + 12 * 60
    return minute


def _check_against(rng: _Range, earlier: list[_Range]) -> None:
    """Refuse readings a person would query: overlapping ranges, and morning hours after afternoon ones."""
    shown = _range_osm(rng)
    if 60 <= rng.start < 5 * 60 and rng.end <= 12 * 60 and not rng.am:  # "1:30-4:30" with no 凌晨/上午
        raise _NotUnderstood(f"night or afternoon (12-hour clock)? {shown}")
    for prev in earlier:
        if rng.start < prev.end and prev.start < rng.end:
            raise _NotUnderstood(f"overlapping ranges {_range_osm(prev)} and {shown}")
    if earlier and rng.start < earlier[-1].start and rng.end <= 12 * 60 and not rng.am:
        raise _NotUnderstood(f"{shown} after {_range_osm(earlier[-1])}: 12-hour clock?")


# ---- OSM output


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _range_osm(rng: _Range) -> str:
    end = rng.end
    if rng.end > _MINUTES_PER_DAY and rng.end - rng.start < _MINUTES_PER_DAY:
        end -= _MINUTES_PER_DAY  # OSM reads "22:00-02:00" as past midnight
    return f"{_hhmm(rng.start)}-{_hhmm(end)}"


def _days_osm(days: frozenset[int] | None, ph: bool) -> str:
    """OSM weekday selector: runs of three or more as ranges (Mo-Fr), shorter ones as lists (Sa,Su), then PH."""
    parts: list[str] = []
    run: list[int] = []
    for day in [*range(7), 7]:  # 7 flushes the last run
        if day < 7 and days and day in days:
            run.append(day)
            continue
        if len(run) >= 3:
            parts.append(f"{_DAY_CODES[run[0]]}-{_DAY_CODES[run[-1]]}")
        else:
            parts.extend(_DAY_CODES[d] for d in run)
        run = []
    if ph:
        parts.append("PH")
    return ",".join(parts)


def _rule_osm(rule: _Rule) -> str:
    """One OSM rule; every day round the clock (also 8:00-次日8:00) is 24/7."""
    full_day = rule.h24 or (len(rule.ranges) == 1 and rule.ranges[0].end - rule.ranges[0].start
                            == _MINUTES_PER_DAY)
    if full_day and not rule.ph and rule.days in (None, _ALL_DAYS):
        return "24/7"
    if rule.off:
        what = "off"
    elif rule.h24:
        what = "00:00-24:00"
    else:
        what = ",".join(_range_osm(r) for r in rule.ranges)
    return f"{_days_osm(rule.days, rule.ph)} {what}".strip()
