"""What the editing side keeps besides the layers: accounts, API tokens, the audit log of changes, courier reports.

One SQL layer serves both backends: a SQLite file beside a GeoPackage store (``locator.gpkg`` ->
``locator.records.sqlite``; not inside the GeoPackage, whose every write swaps in a whole new file, so a row
written into the old file meanwhile would be lost), or tables prefixed ``locator_`` in the PostGIS store's
database. Statements are written once with ``?`` placeholders; the PostgreSQL adapter turns them into ``%s``.

Per-record versions are content hashes (:func:`record_version`): the same stored record always has the same
version, whoever wrote it (editor, import, copy), so an ETag read from any worker can be checked against the
store itself. Edits take :meth:`Records.edit_lock` (a file lock, or a PostgreSQL advisory lock) around
"read the record, compare versions, write", so two editors can't both pass the check.

An audited change is written *before* the layer write as ``pending``, then marked ``done`` with the new data
version (or ``failed``). A process killed in between leaves a ``pending`` entry, which :meth:`Records.reconcile`
settles later by comparing the stored record with the entry's new values: the log may say "unconfirmed" for a
moment, but it never misses a change that landed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from locator.errors import Conflict, InvalidParameter, NotFound, StoreUnavailable
from locator.store.filelock import file_lock

ROLES = ("editor", "admin")
REPORT_KINDS = ("closed_when_open", "amenity_problem", "wrong_location")
REPORT_STATUSES = ("open", "resolved")
TOKEN_PREFIX = "lct_"
_LOCK_KEY = 0x6C6F63656469  # "locedi": the PostgreSQL advisory lock that orders edits

_TABLES = ("locator_users", "locator_tokens", "locator_changes", "locator_reports", "locator_secrets")


def _ddl(serial: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS locator_users (
            id {serial}, username TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
            role TEXT NOT NULL, district TEXT NOT NULL DEFAULT '', subdistrict TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS locator_tokens (
            id {serial}, user_id BIGINT NOT NULL REFERENCES locator_users(id), name TEXT NOT NULL DEFAULT '',
            token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS locator_changes (
            id {serial}, at TEXT NOT NULL, username TEXT NOT NULL, layer TEXT NOT NULL, record_id TEXT NOT NULL,
            action TEXT NOT NULL, fields TEXT NOT NULL, state TEXT NOT NULL, data_version BIGINT,
            reverts BIGINT, note TEXT NOT NULL DEFAULT '')""",
        "CREATE INDEX IF NOT EXISTS locator_changes_record ON locator_changes (layer, record_id)",
        f"""CREATE TABLE IF NOT EXISTS locator_reports (
            id {serial}, station_id TEXT NOT NULL, kind TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, client TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open',
            resolved_by TEXT NOT NULL DEFAULT '', resolved_at TEXT NOT NULL DEFAULT '',
            resolution TEXT NOT NULL DEFAULT '')""",
        "CREATE TABLE IF NOT EXISTS locator_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def record_version(record: dict[str, Any] | None) -> str:
    """A record's version: a hash of its fields (lon/lat to 7 decimals). The ETag of the API."""
    if record is None:
        return "none"
    canonical = json.dumps({k: record[k] for k in sorted(record)}, ensure_ascii=False, default=str,
                           separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


def hash_token(token: str) -> str:
    """Tokens are long random strings: a plain SHA-256 is enough (no password stretching needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    district: str
    subdistrict: str
    active: bool = True

    def public(self) -> dict[str, object]:
        return {"username": self.username, "role": self.role, "district": self.district,
                "subdistrict": self.subdistrict}


class Records:
    """The SQL shared by both backends; subclasses supply ``_db()`` and ``edit_lock()``."""

    placeholder = "?"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    location = ""

    # -- plumbing -------------------------------------------------------------------------------------------------
    def _db(self) -> AbstractContextManager[Any]:  # a connection whose ``with`` commits or rolls back
        raise NotImplementedError

    def edit_lock(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _sql(self, query: str) -> str:
        return query if self.placeholder == "?" else query.replace("?", "%s")

    def _rows(self, query: str, params: tuple = ()) -> list[tuple]:
        with self._db() as db:
            cursor = db.execute(self._sql(query), params)
            return cursor.fetchall() if cursor.description else []

    def _one(self, query: str, params: tuple = ()) -> tuple | None:
        rows = self._rows(query, params)
        return rows[0] if rows else None

    def setup(self) -> None:
        with self._db() as db:
            for statement in _ddl(self.serial):
                db.execute(statement)

    # -- the signing secret ----------------------------------------------------------------------------------------
    def secret(self, name: str = "session") -> str:
        """A random secret made once and kept, so that every worker signs sessions alike."""
        self._rows("INSERT INTO locator_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                   (name, secrets.token_hex(32)))
        row = self._one("SELECT value FROM locator_secrets WHERE name = ?", (name,))
        return str(row[0]) if row else ""

    # -- accounts ------------------------------------------------------------------------------------------------
    def add_user(self, username: str, password_hash: str, *, role: str, district: str = "",
                 subdistrict: str = "") -> User:
        username = username.strip()
        if not username or len(username) > 100:
            raise InvalidParameter("username must be 1-100 characters", param="username")
        if role not in ROLES:
            raise InvalidParameter(f"role must be one of {', '.join(ROLES)}", param="role", valid=list(ROLES))
        if role == "editor" and not (district or subdistrict):
            raise InvalidParameter("an editor needs a district or a subdistrict", param="district")
        if self._one("SELECT id FROM locator_users WHERE username = ?", (username,)):
            raise Conflict(f"user {username!r} exists", param="username")
        self._rows("INSERT INTO locator_users (username, password_hash, role, district, subdistrict, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)", (username, password_hash, role, district, subdistrict, now_iso()))
        return self.user(username)  # type: ignore[return-value]

    def user(self, username: str) -> User | None:
        row = self._one("SELECT id, username, role, district, subdistrict, active FROM locator_users "
                        "WHERE username = ?", (username,))
        return User(int(row[0]), row[1], row[2], row[3], row[4], bool(row[5])) if row else None

    def user_by_id(self, user_id: int) -> User | None:
        row = self._one("SELECT id, username, role, district, subdistrict, active FROM locator_users WHERE id = ?",
                        (int(user_id),))
        return User(int(row[0]), row[1], row[2], row[3], row[4], bool(row[5])) if row else None

    def password_hash(self, username: str) -> str | None:
        row = self._one("SELECT password_hash FROM locator_users WHERE username = ? AND active = 1", (username,))
        return str(row[0]) if row else None

    def set_password_hash(self, username: str, password_hash: str) -> None:
        self._rows("UPDATE locator_users SET password_hash = ? WHERE username = ?", (password_hash, username))

    def users(self) -> list[User]:
        rows = self._rows("SELECT id, username, role, district, subdistrict, active FROM locator_users ORDER BY id")
        return [User(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    # -- tokens --------------------------------------------------------------------------------------------------
    def create_token(self, username: str, *, name: str = "") -> str:
        """A new API token for ``username``; only its hash is kept, so this is the one chance to see it."""
        user = self.user(username)
        if user is None:
            raise NotFound(f"no user {username!r}", param="username")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self._rows("INSERT INTO locator_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
                   (user.id, name, hash_token(token), now_iso()))
        return token

    def user_for_token(self, token: str) -> User | None:
        row = self._one("SELECT u.id, u.username, u.role, u.district, u.subdistrict, u.active FROM locator_tokens t "
                        "JOIN locator_users u ON u.id = t.user_id WHERE t.token_hash = ? AND t.revoked = 0",
                        (hash_token(token),))
        if not row or not row[5]:
            return None
        return User(int(row[0]), row[1], row[2], row[3], row[4], True)

    def revoke_tokens(self, username: str) -> int:
        user = self.user(username)
        if user is None:
            return 0
        rows = self._rows("UPDATE locator_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0 RETURNING id",
                          (user.id,))
        return len(rows)

    # -- the audit log -------------------------------------------------------------------------------------------
    def begin_change(self, *, username: str, layer: str, record_id: str, action: str,
                     fields: dict[str, list[object]], reverts: int | None = None, note: str = "") -> int:
        row = self._one("INSERT INTO locator_changes (at, username, layer, record_id, action, fields, state, reverts, "
                        "note) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id",
                        (now_iso(), username, layer, record_id, action, json.dumps(fields, ensure_ascii=False),
                         reverts, note))
        return int(row[0])  # type: ignore[index]

    def finish_change(self, change_id: int, *, ok: bool, data_version: int | None = None) -> None:
        self._rows("UPDATE locator_changes SET state = ?, data_version = ? WHERE id = ?",
                   ("done" if ok else "failed", data_version, change_id))

    def changes(self, layer: str, record_id: str, *, include_failed: bool = False) -> list[dict[str, Any]]:
        """A record's changes, newest first (``failed`` ones left out unless asked for)."""
        rows = self._rows("SELECT id, at, username, layer, record_id, action, fields, state, data_version, reverts, "
                          "note FROM locator_changes WHERE layer = ? AND record_id = ? ORDER BY id DESC",
                          (layer, record_id))
        return [c for c in map(_change, rows) if include_failed or c["state"] != "failed"]

    def change(self, change_id: int) -> dict[str, Any]:
        if not 0 < int(change_id) < 2**63:  # beyond any stored id, and beyond what SQLite/PostgreSQL can compare
            raise NotFound(f"no change {change_id}", param="change_id")
        row = self._one("SELECT id, at, username, layer, record_id, action, fields, state, data_version, reverts, "
                        "note FROM locator_changes WHERE id = ?", (int(change_id),))
        if row is None:
            raise NotFound(f"no change {change_id}", param="change_id")
        return _change(row)

    def recent_changes(self, *, limit: int = 50) -> list[dict[str, Any]]:
        rows = self._rows("SELECT id, at, username, layer, record_id, action, fields, state, data_version, reverts, "
                          "note FROM locator_changes WHERE state <> 'failed' ORDER BY id DESC LIMIT ?", (int(limit),))
        return [_change(r) for r in rows]

    def reconcile(self, layer: str, record_id: str, current: dict[str, Any] | None) -> None:
        """Settle ``pending`` entries of a record (left by a process that died mid-write): an entry whose new
        values are what the store holds landed; any other did not."""
        for entry in self.changes(layer, record_id):
            if entry["state"] != "pending":
                continue
            landed = all((current or {}).get(k) == v[1] for k, v in entry["fields"].items()) and (
                current is not None or entry["action"] == "delete")
            self.finish_change(entry["id"], ok=landed)

    # -- courier reports -----------------------------------------------------------------------------------------
    def add_report(self, *, station_id: str, kind: str, note: str, client: str) -> int:
        if kind not in REPORT_KINDS:
            raise InvalidParameter(f"kind must be one of {', '.join(REPORT_KINDS)}", param="kind",
                                   valid=list(REPORT_KINDS))
        row = self._one("INSERT INTO locator_reports (station_id, kind, note, created_at, client) "
                        "VALUES (?, ?, ?, ?, ?) RETURNING id", (station_id, kind, note, now_iso(), client))
        return int(row[0])  # type: ignore[index]

    def reports(self, *, status: str | None = "open", station_ids: list[str] | None = None,
                limit: int = 200) -> list[dict[str, Any]]:
        query = ("SELECT id, station_id, kind, note, created_at, status, resolved_by, resolved_at, resolution "
                 "FROM locator_reports")
        params: tuple = ()
        if status is not None:
            query, params = query + " WHERE status = ?", (status,)
        rows = self._rows(query + " ORDER BY id DESC LIMIT ?", (*params, int(limit)))
        found = [dict(zip(_REPORT_KEYS, row, strict=True)) for row in rows]
        return [r for r in found if station_ids is None or r["station_id"] in station_ids]

    def report(self, report_id: int) -> dict[str, Any]:
        if not 0 < int(report_id) < 2**63:
            raise NotFound(f"no report {report_id}", param="report_id")
        row = self._one("SELECT id, station_id, kind, note, created_at, status, resolved_by, resolved_at, resolution "
                        "FROM locator_reports WHERE id = ?", (int(report_id),))
        if row is None:
            raise NotFound(f"no report {report_id}", param="report_id")
        return dict(zip(_REPORT_KEYS, row, strict=True))

    def resolve_report(self, report_id: int, *, username: str, resolution: str) -> dict[str, Any]:
        self.report(report_id)
        self._rows("UPDATE locator_reports SET status = 'resolved', resolved_by = ?, resolved_at = ?, resolution = ? "
                   "WHERE id = ?", (username, now_iso(), resolution[:1000], int(report_id)))
        return self.report(report_id)

    def recent_report_count(self, client: str, *, window_s: float) -> int:
        since = (datetime.now(UTC) - timedelta(seconds=window_s)).isoformat(timespec="seconds")
        row = self._one("SELECT count(*) FROM locator_reports WHERE client = ? AND created_at >= ?", (client, since))
        return int(row[0]) if row else 0


_REPORT_KEYS = ("id", "station_id", "kind", "note", "created_at", "status", "resolved_by", "resolved_at", "resolution")


def _change(row: tuple) -> dict[str, Any]:
    keys = ("id", "at", "username", "layer", "record_id", "action", "fields", "state", "data_version", "reverts",
            "note")
    entry = dict(zip(keys, row, strict=True))
    entry["fields"] = json.loads(entry["fields"])
    entry["id"] = int(entry["id"])
    return entry


class SQLiteRecords(Records):
    """Records in a SQLite file (WAL, so readers never wait for a writer); edits ordered by a file lock."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._ready = False

    @classmethod
    def beside(cls, store_location: str) -> SQLiteRecords:
        base = Path(store_location)
        return cls(base.with_name(base.stem + ".records.sqlite"))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self._ready:
            self._ready = True
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.setup()
        try:
            db = sqlite3.connect(self.path, timeout=10)
        except sqlite3.Error as error:
            raise StoreUnavailable(f"the records database {self.path} can't be opened: {error}") from error
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"the records database {self.path} failed: {error}") from error
        finally:
            db.close()

    def edit_lock(self) -> AbstractContextManager[None]:
        return file_lock(self.path.with_name(self.path.name + ".edit.lock"))


class PostgresRecords(Records):
    """Records in the PostGIS store's database; edits ordered by a session-level advisory lock."""

    placeholder = "%s"
    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def __init__(self, conninfo: str, *, location: str = "") -> None:
        import functools
        import weakref

        from locator.store.pgidle import IdleConnections

        self._conninfo = conninfo
        self.location = location or "postgresql"
        self._ready = False
        # transactions reuse idle connections (see locator.store.pgidle); the edit lock keeps a session of its own
        self._idle = IdleConnections(functools.partial(_open_records, conninfo, self.location))
        weakref.finalize(self, self._idle.close)

    def _connect(self):  # noqa: ANN202 - a psycopg connection
        return _open_records(self._conninfo, self.location)

    @contextmanager
    def _db(self) -> Iterator[Any]:
        import psycopg

        if not self._ready:
            self._ready = True
            try:
                self._setup_locked()
            except BaseException:
                self._ready = False
                raise
        try:
            with self._idle.connection() as conn, conn.transaction():
                yield conn
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            raise StoreUnavailable(f"PostgreSQL at {self.location} failed (records): "
                                   f"{str(error).strip().splitlines()[0] if str(error).strip() else error}") from error

    def _setup_locked(self) -> None:
        conn = self._connect()
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY + 1,))  # workers starting together
                for statement in _ddl(self.serial):
                    conn.execute(statement)
        finally:
            conn.close()

    @contextmanager
    def edit_lock(self) -> Iterator[None]:
        import psycopg

        conn = self._connect()
        conn.autocommit = True
        try:
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                raise StoreUnavailable(f"PostgreSQL at {self.location} failed (edit lock): {error}") from error
            yield
        finally:
            conn.close()  # closing the session releases the lock, also when the server went away


def _open_records(conninfo: str, location: str):  # noqa: ANN202 - a psycopg connection
    import psycopg

    try:
        return psycopg.connect(conninfo, connect_timeout=5, application_name="locator-records")
    except psycopg.OperationalError as error:
        raise StoreUnavailable(f"PostgreSQL at {location} can't be reached (records): "
                               f"{str(error).strip().splitlines()[0] if str(error).strip() else error}") from error


def open_records(store_location: str) -> Records:
    """The records that go with a store: a SQLite file beside a GeoPackage, or tables in PostgreSQL."""
    if store_location.startswith(("postgresql://", "postgres://")):
        from locator.store.postgis import redact

        return PostgresRecords(store_location, location=redact(store_location))
    return SQLiteRecords.beside(store_location)


__all__ = ["REPORT_KINDS", "ROLES", "Records", "SQLiteRecords", "PostgresRecords", "User", "open_records",
           "record_version", "hash_token", "_TABLES"]
