"""Read streets from OpenStreetMap extracts (``.osm`` XML, ``.osm.pbf``) into the streets layer's shape.

One reader serves both formats: pyosmium reads XML and PBF alike (and ``.osm.gz`` / ``.osm.bz2``), node
locations first, then the ways, so files with ways before nodes (Overpass answers) read too.
OpenStreetMap data is always WGS-84, so no ``--crs`` is needed. Each kept way becomes one row, whole:
splitting at intersections is the graph builder's job (``locator.core.network``). The id is
``osm-w<way id>``, stable across imports of newer extracts.

What is kept
------------
``name``
    ``name:zh``, then ``name:zh-Hans``, then ``name``; empty where the way has none.
``highway``
    The OpenStreetMap class as tagged (``primary``, ``residential``, ``footway``, ...).
``oneway``
    As it applies to riders (walkers ignore it; see ``locator.core.network``). ``oneway:bicycle`` wins
    over ``oneway``, which wins over ``junction=roundabout|circular`` (one-way by definition).
    ``yes`` / ``1`` / ``true`` are one-way in the drawn direction; ``-1`` / ``reverse`` are one-way
    against it, so the geometry is reversed and the drawn direction is the travel direction.
    ``reversible`` / ``alternating`` change with the time of day and count as two-way.
``access``
    Who of the two kinds of traveller locator serves may use the way, where the tags say only one may:
    ``foot`` (walkers; riders must push: ``bicycle=no|dismount|use_sidepath``), ``bicycle`` (riders,
    e-bikes included; no walking: ``foot=no``), empty for both. The walker's tag is ``foot`` then
    ``access``; the rider's is ``electric_bicycle`` then ``bicycle``, ``vehicle``, ``access`` (the OSM
    access hierarchy). ``motor_vehicle``/``motorcar`` restrictions do not apply: Chinese law counts
    e-bikes (电动自行车) as non-motor vehicles. ``delivery``, ``destination`` and ``customers`` allow:
    couriers deliver. Only explicit tags count; the defaults of a class (no riding on a footway) are
    the graph's profiles' business.

What is dropped (counted by reason, see :data:`DROP_REASONS`)
-------------------------------------------------------------
* ``motorway``, ``motorway_link``, and any way tagged ``motorroad=yes`` (机动车专用路: Beijing's ring-road
  main carriageways are ``trunk`` + ``motorroad=yes``): closed to walkers and non-motor vehicles.
  Other ``trunk`` ways are kept: they often carry side roads (辅路) and non-motor lanes on the same way.
* Classes that are no street to walk or ride: ``construction``, ``proposed``, ``planned``,
  ``abandoned``, ``disused``, ``raceway``, ``bus_guideway``, ``busway``, ``escape``, ``platform``,
  ``services``, ``rest_area`` and any value not in :data:`KEPT_CLASSES`.
* Areas: ``area=yes`` (a square drawn as a polygon is no line to walk along), and closed ways that
  also carry a tag only areas have (``building``, ``landuse``, ``leisure``, ``natural``, ``place``,
  ``amenity=parking``). Any other closed way is a loop (a roundabout, a block circuit), as
  OpenStreetMap reads it, and is kept.
* Private service roads: ``highway=service`` with ``access=private|no`` and no explicit ``foot`` or
  ``bicycle`` permission (compound and car-park lanes behind gates).
* Ways closed to both walkers and riders by their tags (``access=no|private`` without a ``foot`` or
  ``bicycle`` permission, ``foot=no`` + ``bicycle=no``, ...).
* Ways with fewer than two nodes located in the file (an extract cut them off).

Ways without a ``highway`` tag (buildings, rivers, boundaries) are skipped unread and not counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from locator.errors import ImportFailed, InvalidParameter

__all__ = ["OSM_SUFFIXES", "KEPT_CLASSES", "DROP_REASONS", "OsmStreets", "Street", "is_osm_file",
           "read_osm_streets", "stated_system", "street_from_tags"]

OSM_SUFFIXES = (".osm", ".osm.pbf", ".pbf", ".osm.gz", ".osm.bz2")
WGS84 = "EPSG:4326"
ID_PREFIX = "osm-w"

KEPT_CLASSES = frozenset({
    "trunk", "trunk_link", "primary", "primary_link", "secondary", "secondary_link", "tertiary",
    "tertiary_link", "unclassified", "residential", "living_street", "service", "road", "track",
    "pedestrian", "footway", "path", "steps", "cycleway", "corridor", "bridleway",
})
_MOTORWAY = frozenset({"motorway", "motorway_link"})

DROP_REASONS: dict[str, str] = {
    "motorway": "motorway or motorroad=yes: closed to walkers and non-motor vehicles",
    "not_a_street": "highway class that is no street to walk or ride (construction, proposed, raceway, ...)",
    "area": "an area (area=yes, or a closed way tagged as a building, car park, ...), not a line",
    "private_service": "private service road (highway=service with access=private/no)",
    "no_access": "closed to walkers and riders by its access tags",
    "missing_nodes": "fewer than two of its nodes are in the file",
}

_YES = frozenset({"yes", "1", "true"})
_REVERSE = frozenset({"-1", "reverse"})
_NO = frozenset({"no", "0", "false", "reversible", "alternating"})
# Access values that shut a traveller out; anything else (yes, designated, permissive, destination,
# delivery, customers, unknown, a typo) lets them through, so a street is never lost to an odd value.
_DENY = frozenset({"no", "private", "agricultural", "forestry", "military", "emergency", "permit"})
_NO_RIDING = _DENY | {"dismount", "use_sidepath"}
_PERMIT = frozenset({"yes", "designated", "permissive", "destination", "delivery", "customers", "official"})
_WALKER_KEYS = ("foot", "access")
_RIDER_KEYS = ("electric_bicycle", "bicycle", "vehicle", "access")
_NAME_KEYS = ("name:zh", "name:zh-Hans", "name")
_AREA_KEYS = ("building", "landuse", "leisure", "natural", "place")
_RULE_KEYS = ("highway", "motorroad", "area", "foot", "access", "electric_bicycle", "bicycle", "vehicle",
              "oneway:bicycle", "oneway", "junction")


@dataclass(frozen=True)
class Street:
    """What one way's tags say: a drop reason (``""`` to keep), and the kept columns."""

    drop: str = ""
    name: str = ""
    highway: str = ""
    oneway: bool = False
    reverse: bool = False
    access: str = ""


@dataclass
class OsmStreets:
    """The streets read from an OSM file.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        ``id``, ``name``, ``highway``, ``oneway``, ``access``, ``source`` and LineString geometry in
        WGS-84 (EPSG:4326), one row per kept way, in file order.
    dropped : collections.Counter
        Highway ways not kept, by reason (keys of :data:`DROP_REASONS`).
    ways_read : int
        Highway ways read (kept + dropped).
    """

    frame: gpd.GeoDataFrame
    dropped: Counter[str] = field(default_factory=Counter)
    ways_read: int = 0


def is_osm_file(path: str | Path) -> bool:
    """True for a file name OpenStreetMap extract services use (``.osm``, ``.osm.pbf``, ``.pbf``, ...)."""
    name = Path(path).name.lower()
    return any(name.endswith(suffix) for suffix in OSM_SUFFIXES)


def stated_system(stated: str | None, *, file: str) -> str:
    """OpenStreetMap data is WGS-84 by definition: ``wgs84``, or ``InvalidParameter`` for any other ``--crs``."""
    if stated not in (None, "wgs84"):
        msg = (f"{file} is OpenStreetMap data, which is always WGS-84; --crs {stated} does not apply "
               "(leave --crs out)")
        raise InvalidParameter(msg, param="crs")
    return "wgs84"


def _values(tags: Mapping[str, str], keys: tuple[str, ...]) -> dict[str, str]:
    """The non-blank values of ``keys``, trimmed and lower-cased; one lookup per key (TagList lookups cost)."""
    get = tags.get
    out = {}
    for key in keys:
        value = get(key)
        if value and (value := value.strip().lower()):
            out[key] = value
    return out


def _first(values: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    return next((values[k] for k in keys if k in values), None)


def _oneway(values: Mapping[str, str]) -> tuple[bool, bool]:
    """(one-way, drawn against the travel direction) for a rider."""
    for key in ("oneway:bicycle", "oneway"):
        value = values.get(key)
        if value in _YES:
            return True, False
        if value in _REVERSE:
            return True, True
        if value in _NO:
            return False, False
    return values.get("junction") in {"roundabout", "circular"}, False


def street_from_tags(tags: Mapping[str, str], *, closed: bool = False) -> Street:
    """Apply the module's keep/drop rules to one way's tags; ``closed`` says first node == last node."""
    values = _values(tags, _RULE_KEYS)
    highway = values.get("highway", "")
    if highway in _MOTORWAY or values.get("motorroad") == "yes":
        return Street("motorway", highway=highway)
    if highway not in KEPT_CLASSES:
        return Street("not_a_street", highway=highway)
    area = values.get("area")
    if area == "yes" or (closed and area != "no" and _is_area(tags)):
        return Street("area", highway=highway)
    walk_ok = _first(values, _WALKER_KEYS) not in _DENY
    ride_ok = _first(values, _RIDER_KEYS) not in _NO_RIDING
    if highway == "service" and values.get("access") in {"private", "no"} and not (
            values.get("foot") in _PERMIT or _first(values, ("bicycle", "electric_bicycle")) in _PERMIT):
        return Street("private_service", highway=highway)
    if not walk_ok and not ride_ok:
        return Street("no_access", highway=highway)
    access = "" if walk_ok and ride_ok else ("foot" if walk_ok else "bicycle")
    oneway, reverse = _oneway(values)
    name = next((text for k in _NAME_KEYS if (text := (tags.get(k) or "").strip())), "")
    return Street("", name, highway, oneway, reverse, access)


def _is_area(tags: Mapping[str, str]) -> bool:
    """A closed way that carries a tag only areas have."""
    values = _values(tags, (*_AREA_KEYS, "amenity"))
    return any(k in values for k in _AREA_KEYS) or values.get("amenity") == "parking"


def read_osm_streets(path: str | Path, *, source: str = "osm") -> OsmStreets:
    """Read the street ways of an OpenStreetMap file (``.osm``, ``.osm.pbf``, ...) by the module's rules.

    Parameters
    ----------
    path : str or Path
        An OSM XML or PBF file, as OSM extract services and the Overpass API hand them out.
    source : str
        Value of the ``source`` column.

    Returns
    -------
    OsmStreets
        The kept streets in WGS-84, and the count of dropped ways by reason.
    """
    import osmium  # imported here: only OSM imports pay for it

    path = Path(path)
    if not path.is_file():
        msg = f"{path}: no such file"
        raise InvalidParameter(msg, param="path")
    if not is_osm_file(path):
        msg = f"{path.name}: not an OpenStreetMap file; use one of {', '.join(OSM_SUFFIXES)}"
        raise InvalidParameter(msg, param="path")
    # Two passes: node locations first (in C++), then the ways. One pass would need nodes before ways,
    # and Overpass's `out body; >; out skel qt;` writes the ways first.
    locations = osmium.NodeLocationsForWays(osmium.index.create_map("flex_mem"))
    locations.ignore_errors()  # a node missing from the file leaves an invalid location, handled below
    factory = osmium.geom.WKBFactory()
    ids: list[str] = []
    rows: dict[str, list[object]] = {"name": [], "highway": [], "oneway": [], "access": []}
    wkb: list[bytes] = []
    dropped: Counter[str] = Counter()
    ways = 0
    try:
        with osmium.io.Reader(str(path), osmium.osm.NODE) as reader:
            osmium.apply(reader, locations)
        processor = (osmium.FileProcessor(str(path), osmium.osm.WAY)
                     .with_filter(osmium.filter.KeyFilter("highway")).with_filter(locations))
        for way in processor:
            ways += 1
            nodes = way.nodes
            street = street_from_tags(way.tags, closed=way.is_closed())
            if street.drop:
                dropped[street.drop] += 1
                continue
            # libosmium builds the line (consecutive repeats dropped) and skips nodes without a location.
            try:
                line = factory.create_linestring(
                    nodes, direction=osmium.geom.BACKWARD if street.reverse else osmium.geom.FORWARD)
            except (osmium.InvalidLocationError, RuntimeError):  # a node not in the file; < 2 distinct nodes
                dropped["missing_nodes"] += 1
                continue
            if _point_count(line) < len(nodes) and not all(n.location.valid() for n in nodes):
                dropped["missing_nodes"] += 1  # a way cut by the extract's edge: half a street misleads
                continue
            ids.append(f"{ID_PREFIX}{way.id}")
            rows["name"].append(street.name)
            rows["highway"].append(street.highway)
            rows["oneway"].append(street.oneway)
            rows["access"].append(street.access)
            wkb.append(bytes.fromhex(line))  # GEOS reads binary WKB four times faster than hex
    except RuntimeError as exc:  # libosmium: unreadable PBF blob, XML syntax error, unknown element
        msg = f"{path.name}: cannot read it as an OpenStreetMap file: {exc}"
        raise ImportFailed(msg, param="path") from exc
    geometry = shapely.from_wkb(np.asarray(wkb, dtype=object)) if wkb else np.empty(0, dtype=object)
    frame = pd.DataFrame({"id": pd.Series(ids, dtype=object), **{k: pd.Series(v, dtype=object)
                                                                  for k, v in rows.items()}})
    frame["oneway"] = frame["oneway"].astype(bool)
    frame["source"] = source
    return OsmStreets(gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=WGS84), crs=WGS84),
                      dropped, ways)


def _point_count(hex_wkb: str) -> int:
    """Points in a little-endian hex WKB LineString (byte order, type, then the uint32 count)."""
    return int.from_bytes(bytes.fromhex(hex_wkb[10:18]), "little")
