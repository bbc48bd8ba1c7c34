"""The PostGIS store reuses idle connections, never a bad one, and never across a fork."""

from __future__ import annotations

import multiprocessing

import psycopg
import pytest

pytestmark = pytest.mark.postgis


def _backend(store) -> int:  # noqa: ANN001
    with store._connect() as conn:
        return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])


def test_an_operation_reuses_the_last_ones_connection(postgis_store):
    first = _backend(postgis_store)
    postgis_store.data_version()
    assert _backend(postgis_store) == first


def test_a_connection_cut_while_idle_is_replaced_not_reused(postgis_store, postgis_url):
    first = _backend(postgis_store)
    with psycopg.connect(postgis_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        # termination is asynchronous: look until that backend has gone (each look is a round trip)
        for _ in range(10_000):
            if not admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone()[0]:
                break
    assert postgis_store.data_version() >= 0  # no StoreUnavailable: a fresh connection
    assert _backend(postgis_store) != first


def test_a_connection_left_in_a_failed_transaction_is_not_kept(postgis_store):
    first = _backend(postgis_store)
    with pytest.raises(psycopg.errors.DivisionByZero), postgis_store._connect() as conn:
        conn.autocommit = False
        conn.execute("SELECT 1 / 0")
    assert _backend(postgis_store) != first


def _child_backend(store, out) -> None:  # noqa: ANN001
    out.put(_backend(store))


def test_a_forked_child_neither_uses_nor_closes_the_parents_connections(postgis_store):
    parent = _backend(postgis_store)
    out = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_child_backend, args=(postgis_store, out))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert out.get(timeout=5) != parent
    assert _backend(postgis_store) == parent  # still open and reused: the child left it alone
