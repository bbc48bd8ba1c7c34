"""Accounts, tokens, the audit log and reports: the same tests on SQLite (beside a GeoPackage) and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from locator.errors import Conflict, InvalidParameter, NotFound


@pytest.fixture
def sqlite_records(tmp_path):
    from locator.store.records import open_records

    return open_records(str(tmp_path / "x.gpkg"))


@pytest.fixture
def postgres_records(postgis_url):
    from locator.store.records import open_records

    return open_records(postgis_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgis)])
def records(request):
    return request.getfixturevalue(f"{request.param}_records")


def test_sqlite_file_sits_beside_the_geopackage(tmp_path, sqlite_records):
    sqlite_records.add_user("a", "h", role="admin")
    assert (tmp_path / "x.records.sqlite").exists()


def test_users_roles_and_scope(records):
    user = records.add_user("li", "hash1", role="editor", district="顺义区")
    assert (user.username, user.role, user.district) == ("li", "editor", "顺义区")
    assert records.password_hash("li") == "hash1"
    assert records.user("nobody") is None
    with pytest.raises(Conflict):
        records.add_user("li", "x", role="admin")
    with pytest.raises(InvalidParameter):
        records.add_user("wang", "x", role="superuser")
    with pytest.raises(InvalidParameter):
        records.add_user("wang", "x", role="editor")  # an editor without a district would edit everything


def test_tokens_are_kept_only_as_hashes(records):
    records.add_user("bot", "h", role="admin")
    token = records.create_token("bot", name="script")
    assert token.startswith("lct_") and len(token) > 40
    assert records.user_for_token(token).username == "bot"
    assert records.user_for_token(token + "x") is None
    stored = records._rows("SELECT token_hash FROM locator_tokens")
    assert token not in str(stored)
    assert records.revoke_tokens("bot") == 1
    assert records.user_for_token(token) is None
    with pytest.raises(NotFound):
        records.create_token("ghost")


def test_secret_is_made_once(records):
    assert records.secret() == records.secret() and len(records.secret()) == 64


def test_change_log_pending_done_failed_and_reconcile(records):
    first = records.begin_change(username="li", layer="stations", record_id="s1", action="update",
                                 fields={"name": ["甲", "乙"]})
    records.finish_change(first, ok=True, data_version=7)
    failed = records.begin_change(username="li", layer="stations", record_id="s1", action="update",
                                  fields={"name": ["乙", "丙"]})
    records.finish_change(failed, ok=False)
    landed = records.begin_change(username="li", layer="stations", record_id="s1", action="update",
                                  fields={"phone": ["", "110"]})
    lost = records.begin_change(username="li", layer="stations", record_id="s1", action="update",
                                fields={"phone": ["110", "120"]})
    history = records.changes("stations", "s1")
    assert [c["id"] for c in history] == [lost, landed, first]  # newest first, failed left out
    assert history[-1]["fields"] == {"name": ["甲", "乙"]} and history[-1]["data_version"] == 7
    with pytest.raises(NotFound):
        records.change(10**20)  # larger than any integer column: not found, not an overflow
    records.reconcile("stations", "s1", {"name": "乙", "phone": "110"})
    states = {c["id"]: c["state"] for c in records.changes("stations", "s1", include_failed=True)}
    assert states == {first: "done", failed: "failed", landed: "done", lost: "failed"}


def test_reports_queue_and_resolution(records):
    one = records.add_report(station_id="s1", kind="closed_when_open", note="锁着门", client="c1")
    records.add_report(station_id="s2", kind="wrong_location", note="", client="c1")
    with pytest.raises(InvalidParameter):
        records.add_report(station_id="s1", kind="rude", note="", client="c1")
    assert [r["station_id"] for r in records.reports()] == ["s2", "s1"]
    assert [r["id"] for r in records.reports(station_ids=["s1"])] == [one]
    done = records.resolve_report(one, username="li", resolution="已开门")
    assert done["status"] == "resolved" and done["resolved_by"] == "li"
    assert [r["station_id"] for r in records.reports()] == ["s2"]
    assert records.recent_report_count("c1", window_s=600) == 2


def test_edit_lock_serialises(records):
    order: list[str] = []
    inside = threading.Event()

    def second() -> None:
        inside.wait(5)
        with records.edit_lock():
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with records.edit_lock():
        inside.set()
        thread.join(0.3)  # the other thread must still be waiting for the lock
        order.append("first")
    thread.join(10)
    assert order == ["first", "second"]
