"""One consistent, immutable view of all layers, with the indexes built from them.

Requests read a Snapshot; a data change builds a new one and swaps the reference, so a request
never sees half-loaded data and never rebuilds an index. Derived structures (the station index,
the street graph, coverage) are built once per snapshot by registered builders.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd

Builder = Callable[["Snapshot"], Any]

# Builders run when a snapshot loads (so no request pays for them); registered by core modules.
WARM_BUILDERS: dict[str, Builder] = {}
# The layers each builder reads: a new snapshot whose layers are unchanged reuses the structure.
BUILDER_LAYERS: dict[str, tuple[str, ...] | None] = {}


def register_builder(key: str, *, layers: tuple[str, ...] | None = None) -> Callable[[Builder], Builder]:
    """Declare a derived structure built for every snapshot as it loads.

    ``layers`` names the layers the builder reads (None: all of them). When data changes, a structure
    whose layers are unchanged is carried over instead of rebuilt: an edit to one station must not
    rebuild the street graph.
    """

    def wrap(builder: Builder) -> Builder:
        WARM_BUILDERS[key] = builder
        BUILDER_LAYERS[key] = layers
        return builder

    return wrap


@dataclass
class Snapshot:
    version: int
    layers: Mapping[str, gpd.GeoDataFrame]
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # The data version at which each layer last changed (Store.layer_versions); equal numbers, equal layers.
    layer_versions: Mapping[str, int] = field(default_factory=dict)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)
    # Re-entrant: a builder may itself ask for another derived structure (siting needs the graph).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def layer(self, name: str) -> gpd.GeoDataFrame:
        return self.layers[name]

    def derived(self, key: str, builder: Builder | None = None) -> Any:
        """The structure ``key`` for this snapshot, built on first use and kept."""
        try:
            return self._derived[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._derived:
                self._derived[key] = (builder or WARM_BUILDERS[key])(self)
            return self._derived[key]

    def unchanged_since(self, previous: Snapshot, layers: tuple[str, ...]) -> bool:
        """Whether every one of ``layers`` is the same here as in ``previous``."""
        return bool(self.layer_versions) and all(
            name in self.layer_versions and self.layer_versions[name] == previous.layer_versions.get(name)
            for name in layers)

    def warm(self, *, previous: Snapshot | None = None) -> Snapshot:
        """Build every registered structure, carrying over from ``previous`` those whose layers are unchanged."""
        if previous is not None:
            for key, layers in BUILDER_LAYERS.items():
                if layers is not None and key in previous._derived and self.unchanged_since(previous, layers):
                    self._derived.setdefault(key, previous._derived[key])
        for key in WARM_BUILDERS:
            self.derived(key)
        return self
