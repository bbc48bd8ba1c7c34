"""Snapshot: derived structures are built once and may build on each other."""

from locator.core.snapshot import Snapshot


def test_derived_is_built_once_and_may_nest():
    calls = []
    snapshot = Snapshot(version=1, layers={})

    def graph(snap):
        calls.append("graph")
        return "G"

    def plan(snap):
        calls.append("plan")
        return snap.derived("graph", graph) + "+plan"

    assert snapshot.derived("plan", plan) == "G+plan"
    assert snapshot.derived("plan", plan) == "G+plan"
    assert calls == ["plan", "graph"]

