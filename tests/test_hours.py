"""Opening hours: free text to OSM syntax, and open/closed at fixed moments in Asia/Shanghai."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import opening_hours
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locator import hours
from locator.hours import TZ, NormalisedHours, is_open, is_valid, next_change, normalise

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sh(*args: int) -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime(*args, tzinfo=TZ)


# 2026-11-24 is a Tuesday, 2026-11-28 a Saturday, 2026-10-01 National Day (a public holiday).
TUE, SAT, NATIONAL_DAY = (2026, 11, 24), (2026, 11, 28), (2026, 10, 1)


# ---- normalise: free text -> OSM

UNDERSTOOD = [
    # days and the usual Chinese ways of writing a range
    ("周一至周日 8:00-20:00", "Mo-Su 08:00-20:00"),
    ("周一到周日;17:00-20:00", "Mo-Su 17:00-20:00"),
    ("周一------周日;上午8:00-11:00 下午13:00-16:00", "Mo-Su 08:00-11:00,13:00-16:00"),
    ("每天 8:00-20:00", "Mo-Su 08:00-20:00"),
    ("每日;8：00-12：00", "Mo-Su 08:00-12:00"),
    ("每天13:30-17:30", "Mo-Su 13:30-17:30"),
    ("星期一到星期五 9:00-17:00", "Mo-Fr 09:00-17:00"),
    ("工作日 9:00-17:00", "Mo-Fr 09:00-17:00"),
    ("（工作日）13：30-16：30", "Mo-Fr 13:30-16:30"),
    ("周末 10:00-16:00", "Sa,Su 10:00-16:00"),
    ("周六日 9:00-12:00", "Sa,Su 09:00-12:00"),
    ("周一、三、五 9:00-17:00", "Mo,We,Fr 09:00-17:00"),
    ("每周一、三 9:00-11:00", "Mo,We 09:00-11:00"),
    ("周一至五 8:00-17:00", "Mo-Fr 08:00-17:00"),
    ("周五至周一 10:00-12:00", "Mo,Fr-Su 10:00-12:00"),
    ("周一至周日及节假日 8:00-20:00", "Mo-Su,PH 08:00-20:00"),
    ("节假日 9:00-12:00", "PH 09:00-12:00"),
    ("周一至周五 9:00-17:00；周末休息；节假日除外", "Mo-Fr 09:00-17:00; Sa,Su off; PH off"),
    ("周一至周五 9:00-17:00（节假日除外）", "Mo-Fr 09:00-17:00; PH off"),
    ("9:00-17:00（周一至周五）", "Mo-Fr 09:00-17:00"),
    # round the clock
    ("24小时", "24/7"),
    ("全天", "24/7"),
    ("全天24小时", "24/7"),
    ("周一至周日；24h；", "24/7"),
    ("全天24小时常年不停", "24/7"),
    ("工作日24小时", "Mo-Fr 00:00-24:00"),
    ("0:00-24:00", "24/7"),
    ("周一至周日;8:00-次日8：00", "24/7"),
    ("周一至周日;8:00-8:00", "24/7"),  # OSM reads 08:00-08:00 as round the clock too
    # several ranges, any separator
    ("8:00-11:30；16:30-19:00", "08:00-11:30,16:30-19:00"),
    ("周一至周日;10:00-11:30；16:30-19:00", "Mo-Su 10:00-11:30,16:30-19:00"),
    ("8:30-11:00;17:30-20:30", "08:30-11:00,17:30-20:30"),  # valid OSM, but there the 2nd rule wins
    ("08:00-11:00; 14:00-17:00", "08:00-11:00,14:00-17:00"),
    ("周一至周日;8:00-11:00、18:00-21:00", "Mo-Su 08:00-11:00,18:00-21:00"),
    ("8:00-11:00/13:30-16:30", "08:00-11:00,13:30-16:30"),
    ("7：00—11：00 13：00—17：00 18：00—22：00", "07:00-11:00,13:00-17:00,18:00-22:00"),
    ("周一至周日;6：00-9:00 14:00-17:00 17:00-21:00", "Mo-Su 06:00-09:00,14:00-17:00,17:00-21:00"),
    ("8:00-12:00；8:00-12:00", "08:00-12:00"),
    # morning / afternoon
    ("上午8:00-12:00 下午14:00-17:30", "08:00-12:00,14:00-17:30"),
    ("周一至周日;上午8:30-11:30；下午1:30-4:30", "Mo-Su 08:30-11:30,13:30-16:30"),
    ("周一至周日；上午:8:00-11:00；下午:13:00-16:30", "Mo-Su 08:00-11:00,13:00-16:30"),
    ("周一至周日；上午8：00—11：00  下午12:30-16；00", "Mo-Su 08:00-11:00,12:30-16:00"),
    ("上午8:00-下午5:00", "08:00-17:00"),
    ("中午11:30-1:30", "11:30-13:30"),
    ("晚上7点-10点", "19:00-22:00"),
    ("晚上8点-12点", "20:00-24:00"),
    ("下午2点半-5点", "14:30-17:00"),
    # how times are written
    ("8点-20点", "08:00-20:00"),
    ("8点30分-17点", "08:30-17:00"),
    ("九点至十七点半", "09:00-17:30"),
    ("8：00-20：00", "08:00-20:00"),
    ("08.00-20.00", "08:00-20:00"),
    ("7:30～11:30", "07:30-11:30"),
    ("7:30~11:30", "07:30-11:30"),
    ("8:30–11:30", "08:30-11:30"),
    ("13：00——14：00", "13:00-14:00"),
    ("7:00--9:30     18:00--21:00", "07:00-09:30,18:00-21:00"),
    ("周一至周日;8:00--11.00      14.00---17:00", "Mo-Su 08:00-11:00,14:00-17:00"),
    ("8:00至20:00", "08:00-20:00"),
    ("8:00到20:00", "08:00-20:00"),
    ("8:00－20:00", "08:00-20:00"),
    ("对外 16:00-20:00", "16:00-20:00"),
    # typos with one reading
    ("周一至周日;7：00-11:：00", "Mo-Su 07:00-11:00"),
    ("周一至周日;8:30－12:00 13:30－15：:30", "Mo-Su 08:30-12:00,13:30-15:30"),
    ("周一至周日;14:00-17；00", "Mo-Su 14:00-17:00"),
    ("周一至周日;7；30-10:00；18:00-20:30", "Mo-Su 07:30-10:00,18:00-20:30"),
    ("6:30--9；00；17:30--21:30", "06:30-09:00,17:30-21:30"),
    ("8:30-11:00/14:00:16:30", "08:30-11:00,14:00-16:30"),
    ("周一至周日;8：00-11：00? 13：30-16：30", "Mo-Su 08:00-11:00,13:30-16:30"),
    # past midnight
    ("8:00—次日2:00", "08:00-02:00"),
    ("20:00-凌晨2:00", "20:00-02:00"),
    ("晚上8:00-次日凌晨2:00", "20:00-02:00"),
    ("22:00-2:00", "22:00-02:00"),
    ("18:00-0:00", "18:00-24:00"),
    ("凌晨2:00-5:00", "02:00-05:00"),
    # English
    ("Mon-Sun 8am-8pm", "Mo-Su 08:00-20:00"),
    ("Mon-Fri 9am-5pm, Sat 10am-2pm", "Mo-Fr 09:00-17:00; Sa 10:00-14:00"),
    ("daily 8:00 to 20:00", "Mo-Su 08:00-20:00"),
    ("Open 24 hours", "24/7"),
    ("Mo-Fr 8:00-17:00", "Mo-Fr 08:00-17:00"),
    # already OSM: verbatim
    ("Mo-Fr 08:00-18:00; Sa 09:00-13:00; PH off", "Mo-Fr 08:00-18:00; Sa 09:00-13:00; PH off"),
    ("24/7", "24/7"),
    ("Mo-Su 08:00-20:00", "Mo-Su 08:00-20:00"),
    ("Sa-Su 10:00-16:00", "Sa-Su 10:00-16:00"),
    ("22:00-06:00", "22:00-06:00"),
    ("Mo-Fr 08:00-12:00,13:00-17:00; PH off", "Mo-Fr 08:00-12:00,13:00-17:00; PH off"),
    ("Jul-Aug Mo-Fr 08:00-20:00", "Jul-Aug Mo-Fr 08:00-20:00"),
    ("  24/7 ", "24/7"),
]


@pytest.mark.parametrize(("text", "osm"), UNDERSTOOD)
def test_normalise_understands(text: str, osm: str) -> None:
    got = normalise(text)
    assert got == NormalisedHours(osm=osm, original=text, understood=True), got.note
    assert opening_hours.validate(got.osm)


NOT_UNDERSTOOD = [
    # could be 17:00 (12-hour clock) or 05:00 the next day
    ("周一至周日;8:00－11:00 14:00－5:00", "12-hour clock or past midnight"),
    ("Mon-Fri 9-5", "12-hour clock or past midnight"),
    ("1:30-4:30", "12-hour clock"),
    ("下午2:00-5:00，8:00-11:00", "12-hour clock"),
    # ranges that overlap: a typo somewhere (8:00 for 18:00?)
    ("7：30--9：30；8：00--21：00", "overlapping"),
    ("周一到周日;8:00-11:00；13:00-16:00；8:00-21:00", "overlapping"),
    # words it does not know are reported, never dropped
    ("周一至周日;7:00-15:00；15:00-23:00本周五起开放", "'本', '起'"),
    ("周一至周日；采样室8:00-20:00；其余时间在急诊室发热门诊24小时服务", "'采样室'"),
    ("7:300-9:30；18:00-21:00", "'300'"),
    ("1、17:00-21:00。2、8:00-17:00", "without a range: '1'"),
    ("8:00起", "'起'"),
    ("8:00 20:00", "without a range"),
    ("8:00-", "without an end"),
    ("25:00-26:00", "not a time of day"),
    ("8:75-9:00", "not a time of day"),
    ("8:00-次日9:00", "longer than a day"),
    ("上午", "without a time"),
    ("周一至周日", "days without times"),
    ("周末休息", "only closing days"),
    ("休息", "without saying when"),
    ("24小时 8:00-20:00", "both 24 hours and time ranges"),
    ("暂无", "text not understood"),
    ("2022", "'2022'"),  # valid OSM (a year), but no hours
    ("Mo", "days without times"),  # valid OSM (Mondays, all day), but read as free text it says no hours
    ("closed", "without saying when"),
    ("x" * 600, "longer than 500 characters"),
]


@pytest.mark.parametrize(("text", "why"), NOT_UNDERSTOOD)
def test_normalise_flags_what_it_cannot_read(text: str, why: str) -> None:
    got = normalise(text)
    assert got.osm is None
    assert got.understood is False
    assert got.original == text
    assert why in got.note


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t", float("nan")])
def test_normalise_empty(text: str | None) -> None:
    got = normalise(text)
    assert (got.osm, got.understood, got.note) == (None, False, "empty")
    assert got.original == ("" if not isinstance(text, str) else text)


def test_normalised_hours_is_frozen() -> None:
    got = normalise("24小时")
    with pytest.raises(AttributeError):
        got.osm = "off"  # type: ignore[misc]


_PIECES = [*"0123456789:：.;；,、-—～至到 次日周一三五六上午下午晚上凌晨点半休息全天小时工作节假每hamp",
           "24小时", "周一至周日", "8:00-20:00", "Mo-Fr 08:00-12:00", "PH off", "周末休息"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=20).map("".join) | st.text(max_size=30))
def test_normalise_never_raises_and_only_returns_valid_osm(text: str) -> None:
    got = normalise(text)
    assert got.original == text
    assert got.understood == (got.osm is not None)
    assert not got.note.startswith("internal")
    if got.understood:
        assert got.osm is not None and is_valid(got.osm)
        assert normalise(got.osm).osm == got.osm  # OSM out reads back as itself


_SEPARATORS = st.sampled_from(["；", ";", " ", "，", "、", "/", "  "])
_DASHES = st.sampled_from(["-", "—", "～", "至", "－", "--"])


@settings(max_examples=200, deadline=None)
@given(marks=st.lists(st.integers(min_value=5 * 60, max_value=24 * 60), min_size=2, max_size=6, unique=True),
       sep=_SEPARATORS, dash=_DASHES, full_width=st.booleans(), probe=st.integers(0, 24 * 60 - 1))
def test_generated_daily_ranges_open_exactly_when_written(marks: list[int], sep: str, dash: str,
                                                          full_width: bool, probe: int) -> None:
    """Daily ranges written the way the sampling-point lists write them: open exactly inside a range."""
    marks = sorted(marks)[: len(marks) // 2 * 2]
    ranges = list(zip(marks[::2], marks[1::2], strict=True))
    colon = "：" if full_width else ":"
    text = "周一至周日;" + sep.join(
        f"{s // 60}{colon}{s % 60:02d}{dash}{e // 60}{colon}{e % 60:02d}" for s, e in ranges)
    got = normalise(text)
    assert got.understood, got.note
    at = datetime(*TUE, tzinfo=TZ) + timedelta(minutes=probe)
    assert is_open(got.osm, at) is any(s <= probe < e for s, e in ranges)


# ---- is_valid, is_open, next_change


@pytest.mark.parametrize(("osm", "valid"), [
    ("24/7", True), ("Mo-Su 08:00-20:00", True), ("Mo-Fr 09:00-17:00; PH off", True), ("22:00-02:00", True),
    ("", False), ("   ", False), ("周一至周日 8:00-20:00", False), ("8am-8pm", False), ("Mon-Sun", False),
])
def test_is_valid(osm: str, valid: bool) -> None:
    assert is_valid(osm) is valid


DAILY = "Mo-Su 08:00-20:00"


@pytest.mark.parametrize(("osm", "at", "expected"), [
    (DAILY, sh(*TUE, 7, 59), False),
    (DAILY, sh(*TUE, 8, 0), True),
    (DAILY, sh(*TUE, 19, 59), True),
    (DAILY, sh(*TUE, 20, 0), False),
    (DAILY, datetime(*TUE, 7, 59), False),  # naive: Asia/Shanghai
    (DAILY, datetime(*TUE, 8, 0), True),
    (DAILY, datetime(*TUE, 0, 0, tzinfo=UTC), True),  # 08:00 in Shanghai
    (DAILY, datetime(*TUE, 12, 0, tzinfo=UTC), False),  # 20:00 in Shanghai
    (DAILY, datetime(2026, 11, 23, 23, 59, tzinfo=timezone(timedelta(hours=-1))), True),  # not a ZoneInfo
    (DAILY, datetime(*TUE, 1, 0, tzinfo=ZoneInfo("Europe/Berlin")), True),  # 08:00 in Shanghai
    ("24/7", sh(*TUE, 3, 0), True),
    ("Mo-Fr 09:00-17:00", sh(*TUE, 10, 0), True),
    ("Mo-Fr 09:00-17:00", sh(*SAT, 10, 0), False),
    ("Mo-Su 08:00-11:00,13:00-16:00", sh(*TUE, 12, 0), False),
    ("Mo-Su 08:00-11:00,13:00-16:00", sh(*TUE, 13, 0), True),
    ("22:00-02:00", sh(*TUE, 1, 0), True),  # Monday's 22:00-02:00
    ("22:00-02:00", sh(*TUE, 2, 0), False),
    ("Mo-Su 08:00-20:00; PH off", sh(*NATIONAL_DAY, 10, 0), False),  # Chinese public holidays
    ("Mo-Su 08:00-20:00; PH off", sh(2026, 10, 8, 10, 0), True),
    ("Mo-Su 08:00-20:00 unknown", sh(*TUE, 10, 0), None),
    (None, sh(*TUE, 10, 0), None),
    ("", sh(*TUE, 10, 0), None),
    ("   ", sh(*TUE, 10, 0), None),  # the library alone would read this as 24/7
    ("周一至周日 8:00-20:00", sh(*TUE, 10, 0), None),  # free text: normalise it first
])
def test_is_open(osm: str | None, at: datetime, expected: bool | None) -> None:
    assert is_open(osm, at) is expected


@pytest.mark.parametrize(("osm", "at", "expected"), [
    (DAILY, sh(*TUE, 7, 59), sh(*TUE, 8, 0)),
    (DAILY, sh(*TUE, 8, 0), sh(*TUE, 20, 0)),
    (DAILY, sh(*TUE, 19, 59), sh(*TUE, 20, 0)),
    (DAILY, sh(*TUE, 20, 0), sh(2026, 11, 25, 8, 0)),
    (DAILY, datetime(*TUE, 7, 59), sh(*TUE, 8, 0)),
    (DAILY, datetime(*TUE, 0, 0, tzinfo=UTC), sh(*TUE, 20, 0)),
    ("Mo-Fr 09:00-17:00", sh(2026, 11, 27, 18, 0), sh(2026, 11, 30, 9, 0)),  # Friday evening -> Monday
    ("22:00-02:00", sh(*TUE, 1, 0), sh(*TUE, 2, 0)),
    ("24/7", sh(*TUE, 10, 0), None),
    ("off", sh(*TUE, 10, 0), None),
    (None, sh(*TUE, 10, 0), None),
    ("", sh(*TUE, 10, 0), None),
    ("not hours", sh(*TUE, 10, 0), None),
])
def test_next_change(osm: str | None, at: datetime, expected: datetime | None) -> None:
    got = next_change(osm, at)
    assert got == expected
    if got is not None:
        assert got.tzinfo == TZ


def test_normalised_then_evaluated() -> None:
    osm = normalise("周一至周日;上午8:30-11:30；下午1:30-4:30").osm
    assert [is_open(osm, sh(*TUE, h, m)) for h, m in [(8, 29), (8, 30), (12, 0), (13, 30), (16, 30)]] == [
        False, True, False, True, False]
    assert next_change(osm, sh(*TUE, 12, 0)) == sh(*TUE, 13, 30)


def test_parses_are_cached() -> None:
    hours._parsed.cache_clear()
    for hour in range(24):
        is_open("Mo-Su 08:00-20:00", sh(*TUE, hour, 0))
    info = hours._parsed.cache_info()
    assert (info.misses, info.hits) == (1, 23)


# ---- real data: the 2022 nucleic-acid sampling points of Hangzhou and Zhoushan


def _hours_values(path: Path) -> list[str]:
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    values = []
    for feature in features:
        for key in ("工作时间", "时间"):
            value = feature["properties"].get(key)
            if isinstance(value, str) and value.strip():
                values.append(value)
    return values


@pytest.mark.shared
@pytest.mark.parametrize(("name", "rows"), [("hangzhou_sampling_points.geojson", 844),
                                             ("zhoushan_sampling_points.geojson", 38)])
def test_real_sampling_point_hours(name: str, rows: int) -> None:
    path = SHARED_DATA / "cn-sampling-points" / name
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/data is absent)")
    values = _hours_values(path)
    assert len(values) == rows  # every point has hours in 工作时间 (Hangzhou) or 时间 (Zhoushan)
    results = [normalise(value) for value in values]
    understood = [r for r in results if r.understood]
    share = len(understood) / len(results)
    print(f"\n{name}: {len(understood)}/{len(results)} understood ({share:.1%}); not understood:")
    for r in {r.original: r for r in results if not r.understood}.values():
        print(f"  {r.original!r}: {r.note}")
    assert share >= 0.95
    assert all(r.original in values for r in results)
    for r in understood:
        assert r.osm is not None and opening_hours.validate(r.osm), r


@pytest.mark.shared
def test_real_sampling_point_hours_read_right() -> None:
    """Hand-checked readings of the Hangzhou list's hardest lines (each exact line is in the file)."""
    path = SHARED_DATA / "cn-sampling-points" / "hangzhou_sampling_points.geojson"
    if not path.exists():
        pytest.skip(f"needs {path} (../shared/data is absent)")
    values = set(_hours_values(path))
    checked = {
        "周一至周日;7：00-11:：00": "Mo-Su 07:00-11:00",
        "周一至周日;上午8:30-11:30；下午1:30-4:30": "Mo-Su 08:30-11:30,13:30-16:30",
        "周一至周日；上午8：00—11：00  下午12:30-16；00": "Mo-Su 08:00-11:00,12:30-16:00",
        "周一至周日;8:00--11.00      14.00---17:00": "Mo-Su 08:00-11:00,14:00-17:00",
        "6:30--9；00；17:30--21:30": "06:30-09:00,17:30-21:30",
        "全天24小时常年不停": "24/7",
        "周一至周日;8:00－11:00 14:00－5:00": None,
    }
    for text, osm in checked.items():
        assert text in values
        assert normalise(text).osm == osm
