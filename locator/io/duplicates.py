"""Find duplicate places: within a radius of each other (metres, work CRS) or with the same name and address.

Both rules keep the first occurrence in file order and run against what is already stored too. Pairs
come from a k-d tree (``scipy.spatial.cKDTree``), so the cost grows with the number of near pairs,
not with the square of the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

DUPLICATE_RADIUS_M = 30.0


@dataclass(frozen=True)
class Duplicate:
    """Row ``position`` repeats ``of``: an earlier row position (``stored`` False) or a stored record id."""

    position: int
    of: int | str
    rule: str  # "near" or "name_address"
    stored: bool = False
    distance_m: float = 0.0


def near_in_file(x_m: np.ndarray, y_m: np.ndarray, *, radius_m: float = DUPLICATE_RADIUS_M,
                 ) -> dict[int, Duplicate]:
    """Rows within ``radius_m`` of an earlier kept row, by position; chains are broken at kept rows."""
    if len(x_m) < 2:
        return {}
    xy = np.column_stack([x_m, y_m])
    pairs = cKDTree(xy).query_pairs(radius_m, output_type="ndarray")
    if not len(pairs):
        return {}
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]  # by later row, then earlier row
    found: dict[int, Duplicate] = {}
    for first, later in pairs.tolist():
        if later in found or first in found:
            continue  # a row already rejected neither keeps nor blocks others
        distance_m = float(np.hypot(*(xy[later] - xy[first])))
        found[later] = Duplicate(later, first, "near", distance_m=distance_m)
    return found


def near_stored(x_m: np.ndarray, y_m: np.ndarray, stored_x_m: np.ndarray, stored_y_m: np.ndarray,
                stored_ids: list[str], *, radius_m: float = DUPLICATE_RADIUS_M) -> dict[int, Duplicate]:
    """Rows within ``radius_m`` of a stored record; reports the nearest one."""
    if not len(x_m) or not len(stored_x_m):
        return {}
    tree = cKDTree(np.column_stack([stored_x_m, stored_y_m]))
    distance_m, index = tree.query(np.column_stack([x_m, y_m]), k=1, distance_upper_bound=radius_m)
    hits = np.flatnonzero(np.isfinite(distance_m))
    return {int(p): Duplicate(int(p), stored_ids[index[p]], "near", stored=True, distance_m=float(distance_m[p]))
            for p in hits}


def same_name_address(names: pd.Series, addresses: pd.Series, *, stored: pd.DataFrame | None = None,
                      name_required: bool = True) -> dict[int, Duplicate]:
    """Rows whose (name, address) repeats an earlier row or a stored record; blanks never match.

    ``stored`` has columns ``id``, ``name`` and ``address``. With ``name_required`` False (booths have
    no name) the address alone is compared.
    """
    names = names.reset_index(drop=True).astype(str).str.strip()
    addresses = addresses.reset_index(drop=True).astype(str).str.strip()
    usable = (addresses != "") & ((names != "") if name_required else True)
    keys = (names if name_required else pd.Series("", index=names.index)) + "\x1f" + addresses
    found: dict[int, Duplicate] = {}
    firsts = pd.Series(np.arange(len(keys)), index=keys.index)[usable].groupby(keys[usable]).transform("min")
    for position, first in firsts.items():
        if position != first:
            found[int(position)] = Duplicate(int(position), int(first), "name_address")
    if stored is not None and len(stored):
        stored_names = stored["name"].astype(str).str.strip() if "name" in stored else ""
        stored_keys = (stored_names if name_required else "") + "\x1f" + stored["address"].astype(str).str.strip()
        lookup = dict(zip(stored_keys, stored["id"], strict=True))
        for position in np.flatnonzero(usable.to_numpy()):
            if int(position) in found:
                continue
            stored_id = lookup.get(keys.iloc[position])
            if stored_id is not None:
                found[int(position)] = Duplicate(int(position), str(stored_id), "name_address", stored=True)
    return found
