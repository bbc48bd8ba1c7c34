"""Street access for walkers and riders: a riders-only way is closed to walkers; riders push on a walkers-only way.

A 3-4-5 triangle: the station S at the origin, the query point Q 500 m away along the hypotenuse, or
300 + 400 m along the two legs through the corner C.
"""

import numpy as np
import pytest

from conftest import ORIGIN_X, ORIGIN_Y, frame
from locator.core.network import EBIKE, WALK, build_street_graph


def line(*points):
    return "LINESTRING (" + ", ".join(f"{ORIGIN_X + x} {ORIGIN_Y + y}" for x, y in points) + ")"


def triangle(hypotenuse_access: str):
    rows = [
        {"id": "leg1", "name": "东路", "highway": "residential", "access": "", "geometry": line((0, 0), (300, 0))},
        {"id": "leg2", "name": "北路", "highway": "residential", "access": "", "geometry": line((300, 0), (300, 400))},
        {"id": "hyp", "name": "斜街", "highway": "residential", "access": hypotenuse_access,
         "geometry": line((0, 0), (300, 400))},
    ]
    return build_street_graph(frame(rows))


def seconds_to_query_point(graph, profile):
    from locator.core.network import nearest_by_network

    stations = frame([{"id": "S", "name": "站", "geometry": f"POINT ({ORIGIN_X} {ORIGIN_Y})"}])
    hits = nearest_by_network(graph, stations, np.array([ORIGIN_X + 300.0]), np.array([ORIGIN_Y + 400.0]),
                              k=1, profile=profile)
    return float(hits["distance_m"].iloc[0]), float(hits["time_min"].iloc[0])


@pytest.mark.parametrize("access", ["", "foot", "bicycle"])
def test_walkers_and_riders_follow_access(access):
    graph = triangle(access)
    walk_m, walk_min = seconds_to_query_point(graph, WALK)
    ride_m, ride_min = seconds_to_query_point(graph, EBIKE)
    # walkers take the hypotenuse unless it is for riders only
    assert walk_m == pytest.approx(700.0 if access == "bicycle" else 500.0, abs=0.5)
    # riders ride the hypotenuse unless it is for walkers only: then pushing 500 m (walk speed) is slower
    # than riding 700 m, and the quickest path is the legs
    assert ride_m == pytest.approx(700.0 if access == "foot" else 500.0, abs=0.5)
    assert ride_min < walk_min


def test_walkers_do_not_snap_to_riders_only_ways():
    graph = triangle("bicycle")
    point_x, point_y = np.array([ORIGIN_X + 100.0]), np.array([ORIGIN_Y + 140.0])  # beside the hypotenuse
    walk = graph.snap(point_x, point_y, profile=WALK)
    ride = graph.snap(point_x, point_y, profile=EBIKE)
    names = graph.streets["id"].to_numpy()[graph.seg_street]
    assert names[int(ride["segment"].iloc[0])] == "hyp"
    assert names[int(walk["segment"].iloc[0])] != "hyp"
