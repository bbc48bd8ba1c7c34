"""Who is asking: accounts with argon2 password hashes, bearer tokens for scripts, sessions, CSRF, and scope.

- Passwords are hashed with argon2id (argon2-cffi); only the hash is stored (``locator.store.records``).
- Scripts send ``Authorization: Bearer <token>``; only the token's SHA-256 is stored. Token-authenticated
  calls carry no cookie, so they need no CSRF token.
- People sign in at ``/admin/login`` and get a signed session cookie: HttpOnly, SameSite=Lax, and Secure
  unless ``COOKIE_SECURE`` says otherwise (``auto``, the default: Secure, except for a plain-http request
  to a loopback host such as ``http://127.0.0.1:8000`` and in tests, where a Secure cookie would never come
  back). Sessions are signed with ``SECRET_KEY``, or where that is empty with a random secret made once and
  kept in the records database, so that every worker process accepts every other's cookies.
- Every state-changing request made with a session (HTML forms, or JSON with the cookie) must carry the
  session's CSRF token: the form field ``csrf_token`` or the header ``X-CSRF-Token``.
- Roles: ``admin`` edits everything; ``editor`` only records in their district (区) and/or subdistrict
  (街道 code): both the record as it was and as it will be must be in scope.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from locator.errors import Forbidden, StoreUnavailable, Unauthorized
from locator.store.records import Records, User, open_records

HASHER = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = HASHER.hash("locator-no-such-user")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def hash_password(password: str) -> str:
    if len(password) < 8:
        from locator.errors import InvalidParameter

        raise InvalidParameter("a password needs at least 8 characters", param="password")
    return HASHER.hash(password)


def records() -> Records:
    """The app's records (accounts, tokens, changes, reports), opened on first use."""
    app = current_app
    found = app.extensions.get("locator_records")
    if found is None:
        found = app.extensions["locator_records"] = open_records(str(app.config["STORE"]))
    return found  # type: ignore[no-any-return]


def authenticate(username: str, password: str) -> User | None:
    """The user if the password is right, else None (the same work either way)."""
    store = records()
    stored = store.password_hash(username.strip())
    try:
        HASHER.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if HASHER.check_needs_rehash(stored):
        store.set_password_hash(username, HASHER.hash(password))
    return store.user(username.strip())


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def current_user() -> User | None:
    """The signed-in user (token first, then session), or None. Cached for the request."""
    if "locator_user" in g:
        return g.locator_user  # type: ignore[no-any-return]
    user: User | None = None
    token = _bearer()
    if token is not None:
        user = records().user_for_token(token)
        if user is None:
            raise Unauthorized("the API token is not valid (revoked or mistyped)", param="Authorization")
        g.locator_auth = "token"
    elif session.get("uid") is not None:
        user = records().user_by_id(int(session["uid"]))
        if user is not None and not user.active:
            user = None
        g.locator_auth = "session"
    g.locator_user = user
    return user


def login_session(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) at sign-in: no fixation
    session["uid"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def logout_session() -> None:
    session.clear()


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """Refuse a state-changing session request without the session's CSRF token (403)."""
    if request.method in SAFE_METHODS or g.get("locator_auth") == "token":
        return
    sent = request.headers.get("X-CSRF-Token") or (request.form.get("csrf_token") if request.form else None) or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        raise Forbidden("missing or wrong CSRF token: reload the form and try again", param="csrf_token")


def require_user(*, role: str | None = None) -> User:
    """The signed-in user, or 401; with ``role="admin"``, 403 for an editor. Checks CSRF for session writes."""
    user = current_user()
    if user is None:
        raise Unauthorized("sign in, or send Authorization: Bearer <token>", param="Authorization")
    check_csrf()
    if role == "admin" and user.role != "admin":
        raise Forbidden("only an admin may do this", param="role")
    return user


def in_scope(user: User, record: dict[str, Any] | None) -> bool:
    """May ``user`` edit ``record``? Admins anything; editors their district and/or subdistrict."""
    if record is None or user.role == "admin":
        return True
    if user.district and str(record.get("district", "")) != user.district:
        return False
    if user.subdistrict and str(record.get("subdistrict", "")) != user.subdistrict:
        return False
    return True


def check_scope(user: User, record: dict[str, Any] | None, *, what: str) -> None:
    if not in_scope(user, record):
        where = " / ".join(x for x in (user.district, user.subdistrict) if x)
        raise Forbidden(f"{user.username} may only edit records in {where}; {what} is outside it", param="district")


class LocatorSessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions whose key may come from the records database and whose Secure flag may
    depend on the request (``COOKIE_SECURE=auto``)."""

    def get_signing_serializer(self, app: Flask):  # noqa: ANN201
        if not app.secret_key:
            try:
                app.secret_key = records().secret()
            except StoreUnavailable:
                return None  # no sessions while the records can't be read; public pages still work
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        setting = str(app.config.get("COOKIE_SECURE", "auto")).strip().lower()
        if setting in ("true", "1", "yes", "on"):
            return True
        if setting in ("false", "0", "no", "off"):
            return False
        if app.testing:
            return False
        plain_loopback = request.scheme == "http" and request.host.rsplit(":", 1)[0] in LOOPBACK_HOSTS
        return not plain_loopback


def register(app: Flask, *, secret_given: bool) -> None:
    """Sessions, cookie flags and the CSRF token for templates."""
    if not secret_given:
        app.secret_key = None  # made once and kept in the records database, shared by every worker
    app.session_interface = LocatorSessionInterface()
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "locator_session"
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", 12 * 3600)

    @app.context_processor
    def _csrf() -> dict[str, object]:
        return {"csrf_token": csrf_token}
