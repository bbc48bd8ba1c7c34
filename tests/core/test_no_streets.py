"""Data with no streets layer: the graph, snapping and coverage are empty, never an error."""


def test_a_graph_with_no_streets_snaps_nothing():
    import numpy as np

    from locator import model
    from locator.core.network import build_street_graph

    graph = build_street_graph(model.empty("streets", crs="EPSG:32650"))
    snapped = graph.snap(np.array([450_000.0]), np.array([4_420_000.0]))
    assert snapped["segment"].tolist() == [-1]


def test_coverage_of_a_layer_without_streets_is_empty(stations):
    from locator import model
    from locator.core.coverage import segment_coverage
    from locator.core.network import build_street_graph

    graph = build_street_graph(model.empty("streets", crs="EPSG:32650"))
    for mode in ("network", "straight"):
        result = segment_coverage(graph, stations, mode=mode)
        assert len(result.segments) == 0
