"""Freezing live objects after each reload is safe only if replaced snapshots are freed without the collector."""

from __future__ import annotations

import gc
import weakref

import pytest

from conftest import frame
from locator.store import GeoPackageStore
from locator.web import gcpolicy
from locator.web.state import DataState


@pytest.fixture
def collector():
    """Leave the process's collector as it was: enabled, nothing frozen, no baseline."""
    saved = dict(gcpolicy._baseline)
    gcpolicy._baseline["frozen"] = 0
    yield
    gc.unfreeze()
    gc.enable()
    gcpolicy._baseline.update(saved)


def _moved(stations):
    row = {**stations.iloc[0].drop("geometry").to_dict(), "geometry": "POINT (450100 4420100)"}
    return frame([row])


def test_a_replaced_snapshot_is_freed_by_reference_counting(tmp_path, stations, collector):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.write({"stations": stations})
    state = DataState(store, reload_seconds=0, freeze_garbage=True)
    first = state.current()
    index = first.derived("station_index")
    gone = weakref.ref(first), weakref.ref(first.layer("stations"))
    del first, index
    assert gc.get_freeze_count() > 0  # the first load froze what was alive
    gc.disable()  # only reference counting from here on
    store.write({"stations": _moved(stations)}, mode="upsert")
    second = state.current()
    assert second.version == 2
    assert [ref() for ref in gone] == [None, None]


def test_no_freezing_unless_asked(tmp_path, stations, collector):
    store = GeoPackageStore(tmp_path / "s.gpkg")
    store.write({"stations": stations})
    DataState(store, reload_seconds=0).current()
    assert gc.get_freeze_count() == 0


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_settle_collects_once_the_frozen_population_regrows(collector):
    assert gcpolicy.settle() is False  # the first: a baseline, no collection
    baseline = gc.get_freeze_count()
    assert baseline > 0
    gc.disable()  # no automatic collection may free the cycles before settle decides
    leaked = []
    for _ in range(3):
        cycle = _Cycle()
        leaked.append(weakref.ref(cycle))
        del cycle  # unreachable, but in a cycle: only the collector frees it
    assert gcpolicy.settle(regrow_share=10.0) is False  # little growth: frozen, not collected
    assert all(ref() is not None for ref in leaked)
    assert gcpolicy.settle(regrow_share=0.0) is True  # any growth: one full collection first
    assert all(ref() is None for ref in leaked)
    assert gc.get_freeze_count() <= baseline + 100
