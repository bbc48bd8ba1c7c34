"""Cell values as layer fields: text cleaned, status words, amenities onto the vocabulary, hours to OSM.

Vocabulary lookups run once per distinct value (caches shared across chunks), so a 20,000-row file
with a few dozen distinct opening-hours texts normalises a few dozen strings.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from locator import hours, model
from locator.io.columns import STATUS_WORDS, ColumnMatch
from locator.io.report import Entry
from locator.model import Problem

# What spreadsheets write in a cell whose formula failed; such a cell holds no value.
EXCEL_ERRORS = frozenset({"#N/A", "#N/A N/A", "#NA", "#VALUE!", "#REF!", "#NAME?", "#DIV/0!", "#NULL!",
                          "#NUM!", "#GETTING_DATA"})


@dataclass
class Caches:
    """Results per distinct value, kept across chunks of one import."""

    hours: dict[str, hours.NormalisedHours] = field(default_factory=dict)
    amenities: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)


def cell_text(series: pd.Series) -> pd.Series:
    """Cells as trimmed text: integral floats without ``.0`` (codes), dates as YYYY-MM-DD, errors as blank."""
    return pd.Series([_text(v) for v in series.tolist()], index=series.index, dtype=object)


def _text(value: object) -> str:
    if isinstance(value, str):
        text = value.strip()
    elif value is None or (np.isscalar(value) and pd.isna(value)):
        return ""
    elif isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, datetime | date):
        text = value.strftime("%Y-%m-%d")
    else:
        text = str(value).strip()
    return "" if text in EXCEL_ERRORS else text


def field_values(cells: pd.DataFrame, numbers: np.ndarray, match: ColumnMatch, *, layer: str, source: str,
                 caches: Caches) -> tuple[pd.DataFrame, list[Entry]]:
    """The layer's fields (plus ``name``) for ``cells``, and a warning per value kept but not understood."""
    schema = model.layer_schema(layer)
    wanted = dict.fromkeys([*schema.column_names, "name"])
    frame = pd.DataFrame(index=range(len(cells)))
    for name in wanted:
        if name in match.fields:
            frame[name] = cell_text(cells[match.fields[name]]).to_numpy()
    warnings: list[Entry] = []
    if "status" in frame:
        frame["status"] = _status(frame["status"], layer, caches)
    if "amenities" in frame and "amenities" in schema.column_names:
        frame["amenities"] = _amenities(frame["amenities"], numbers, match.fields["amenities"], caches, warnings)
    if "opening_hours" in schema.column_names and ({"opening_hours", "opening_hours_raw"} & set(frame)):
        _hours(frame, numbers, match, caches, warnings)
    if "source" in schema.column_names:
        given = frame["source"] if "source" in frame else pd.Series("", index=frame.index, dtype=object)
        frame["source"] = given.where(given != "", source)
    for name in wanted:
        if name not in frame:
            frame[name] = ""  # conform fills the layer's default
    return frame, warnings


def _status(values: pd.Series, layer: str, caches: Caches) -> pd.Series:
    """Chinese status words (开放, 暂停, 已拆除 ...) and spelling variants onto the layer's vocabulary."""
    words = STATUS_WORDS.get(layer, {})
    choices = model.layer_schema(layer).column("status").choices

    def one(text: str) -> str:
        if text not in caches.status:
            key = unicodedata.normalize("NFKC", text).strip().lower()
            snake = key.replace(" ", "_").replace("-", "_")
            caches.status[text] = words.get(key) or (snake if snake in choices else text)
        return caches.status[text]

    return values.map(one)


def _amenities(values: pd.Series, numbers: np.ndarray, header: str, caches: Caches,
               warnings: list[Entry]) -> pd.Series:
    """Free text onto the vocabulary (``model.parse_amenities``); unknown words are a warning, not a rejection."""
    out = []
    for position, text in enumerate(values.tolist()):
        if text not in caches.amenities:
            keys, unknown = model.parse_amenities(text)
            caches.amenities[text] = (model.format_amenities(keys), unknown)
        stored, unknown = caches.amenities[text]
        if unknown:
            reason = f"unknown amenity words left out: {', '.join(unknown)}"
            warnings.append(Entry(Problem(int(numbers[position]), header, reason), "amenities"))
        out.append(stored)
    return pd.Series(out, index=values.index, dtype=object)


def _hours(frame: pd.DataFrame, numbers: np.ndarray, match: ColumnMatch, caches: Caches,
           warnings: list[Entry]) -> None:
    """OSM syntax into ``opening_hours``, the text as given into ``opening_hours_raw``; never dropped.

    A file exported by locator has both columns: its raw text is read again, else its OSM value.
    """
    blank = pd.Series("", index=frame.index, dtype=object)
    raw = frame["opening_hours_raw"] if "opening_hours_raw" in frame else blank
    given = raw.where(raw != "", frame["opening_hours"] if "opening_hours" in frame else blank)
    header = match.fields.get("opening_hours") or match.fields.get("opening_hours_raw", "opening_hours")
    osm = []
    for position, text in enumerate(given.tolist()):
        if not text:
            osm.append("")
            continue
        if text not in caches.hours:
            caches.hours[text] = hours.normalise(text)
        result = caches.hours[text]
        if not result.understood:
            note = f" ({result.note})" if result.note else ""
            reason = f"opening hours not understood, kept as given: {text!r}{note}"
            warnings.append(Entry(Problem(int(numbers[position]), header, reason), "hours"))
        osm.append(result.osm or "")
    frame["opening_hours"] = osm
    frame["opening_hours_raw"] = given.to_numpy()
