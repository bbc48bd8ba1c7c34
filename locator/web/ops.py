"""Running in production: request ids, JSON log lines, request size limit, per-client rate limits.

- **Request ids.** ``X-Request-ID`` from the client (or a proxy) is kept when it is a sane token, otherwise one
  is made; it goes back in the response header and into every log line written while the request runs.
- **Logs.** With ``LOG_FORMAT=json`` (default) every line on stderr is one JSON object: ``ts``, ``level``,
  ``logger``, ``msg``, ``request_id``, and for each request one ``locator.access`` line with method, path,
  status, ``duration_ms``, client and user.
- **Size.** ``MAX_UPLOAD_MB`` becomes Flask's ``MAX_CONTENT_LENGTH``: a larger body gets 413 problem+json
  before it is read. Time is bounded by gunicorn's worker ``--timeout`` (``locator serve``: 60 s), which
  kills and replaces a worker stuck on one request.
- **Rate limits.** Every request but static files and health checks counts against ``RATE_LIMIT`` per client
  IP (fixed windows); beyond it: 429 problem+json with ``Retry-After``. Counters live in Redis
  (``REDIS_URL``, shared by all workers; the API-wide limit is counted in the worker and added to Redis in
  the background every ``SYNC_S``, so no request waits for Redis) and fall back to counting in the worker's
  memory while Redis can't be reached (then each worker allows the full limit). Behind a reverse proxy set
  ``PROXY_COUNT`` so the client IP comes from ``X-Forwarded-For``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

from locator.errors import InvalidParameter, TooManyRequests
from locator.web.problems import problem_response

access_log = logging.getLogger("locator.access")
log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
UNLIMITED_PREFIXES = ("/static/", "/healthz", "/readyz")
REDIS_RETRY_S = 30.0
SYNC_S = 0.1  # how often a worker adds its API-wide counts to Redis


def parse_limit(value: object) -> tuple[int, float]:
    """``"COUNT/SECONDS"`` -> (count, seconds); ``"0"`` or empty -> (0, 0): no limit."""
    text = str(value or "0").strip()
    if text in ("0", ""):
        return 0, 0.0
    count, sep, seconds = text.partition("/")
    try:
        parsed = int(count), float(seconds or 60) if sep else 60.0
    except ValueError:
        raise InvalidParameter(f"a rate limit is COUNT/SECONDS, not {text!r}", param="RATE_LIMIT") from None
    if parsed[0] < 0 or parsed[1] <= 0:
        raise InvalidParameter(f"a rate limit is COUNT/SECONDS, not {text!r}", param="RATE_LIMIT")
    return parsed


class RateLimiter:
    """Fixed-window counters per client: shared through Redis when it answers, in this process otherwise.

    ``hit(..., exact=True)`` counts in Redis before answering (one round trip: for low-volume limits such as
    courier reports, where one more than allowed matters). ``exact=False``, the API-wide limit, never waits
    for Redis: the request counts in this worker's memory and a background thread adds the counts to Redis
    every ``sync_s`` (one pipelined round trip for all clients), reading back the totals of every worker. A
    client is then refused once the total last read plus what this worker counted since passes the limit,
    so it can get past the limit by what the other workers let through within one ``sync_s``.
    """

    def __init__(self, redis_url: str = "", *, namespace: str = "", sync_s: float = SYNC_S) -> None:
        self.redis_url = redis_url
        self.namespace = namespace
        self.sync_s = sync_s
        self._redis = None
        self._redis_down_until = 0.0
        # (key, window) -> [counted here and not yet added to Redis, total in Redis when last read]
        self._counts: dict[tuple[str, int], list[int]] = {}
        self._windows: dict[tuple[str, int], float] = {}  # (key, window) -> window length, for the expiry
        self._lock = threading.Lock()
        self._syncer: threading.Thread | None = None
        self._syncer_pid = 0

    def hit(self, key: str, *, limit: int, window_s: float, exact: bool = True) -> float:
        """Count one event for ``key``; 0 if allowed, else the seconds until the window ends."""
        now = time.time()
        window = int(now // window_s)
        retry_after = (window + 1) * window_s - now
        count = self._redis_hit(key, window, window_s) if exact else None
        if count is None:
            count = self._local_hit(key, window, window_s, shared=bool(not exact and self._redis_usable()))
        return 0.0 if count <= limit else max(1.0, retry_after)

    def _redis_usable(self) -> bool:
        return bool(self.redis_url) and time.monotonic() >= self._redis_down_until

    def _client(self):  # noqa: ANN202 - redis.Redis, imported only where used
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.25, socket_timeout=0.25)
        return self._redis

    def _name(self, key: str, window: int) -> str:
        return f"locator:rl:{self.namespace}:{key}:{window}"

    def _redis_down(self, error: Exception) -> None:
        log.warning("redis at %s unusable for rate limits (%s); counting per worker for %.0f s",
                    self.redis_url, error, REDIS_RETRY_S)
        self._redis = None
        self._redis_down_until = time.monotonic() + REDIS_RETRY_S

    def _redis_hit(self, key: str, window: int, window_s: float) -> int | None:
        if not self._redis_usable():
            return None
        try:
            pipe = self._client().pipeline()
            pipe.incr(self._name(key, window))
            pipe.expire(self._name(key, window), int(window_s) + 1)
            count, _ = pipe.execute()
            return int(count)
        except Exception as error:  # noqa: BLE001 - any Redis trouble: count locally for a while
            self._redis_down(error)
            return None

    def _local_hit(self, key: str, window: int, window_s: float, *, shared: bool) -> int:
        with self._lock:
            if len(self._counts) > 100_000:  # old windows of many clients: forget them
                self._forget_ended(time.time())
            entry = self._counts.setdefault((key, window), [0, 0])
            entry[0] += 1
            self._windows[(key, window)] = window_s
        if shared:
            self._ensure_syncer()
        return entry[0] + entry[1]

    def _forget_ended(self, now: float) -> None:
        """Drop the counts of windows that are over (call with the lock held)."""
        for old in [k for k, length in self._windows.items() if (k[1] + 1) * length < now]:
            self._counts.pop(old, None)
            del self._windows[old]

    def _ensure_syncer(self) -> None:
        # a thread doesn't survive fork: each gunicorn worker starts its own on its first request
        if self._syncer is not None and self._syncer_pid == os.getpid() and self._syncer.is_alive():
            return
        with self._lock:
            if self._syncer is None or self._syncer_pid != os.getpid() or not self._syncer.is_alive():
                self._syncer_pid = os.getpid()
                self._syncer = threading.Thread(target=self._sync_forever, name="locator-rate-sync", daemon=True)
                self._syncer.start()

    def _sync_forever(self) -> None:
        while True:
            time.sleep(self.sync_s)
            self.sync()

    def sync(self) -> None:
        """Add this worker's new counts to Redis and read back every worker's totals."""
        with self._lock:
            pending = [(k, entry[0]) for k, entry in self._counts.items() if entry[0] > 0]
        if not pending or not self._redis_usable():
            return
        try:
            pipe = self._client().pipeline(transaction=False)
            for (key, window), added in pending:
                pipe.incrby(self._name(key, window), added)
                pipe.expire(self._name(key, window), int(self._windows.get((key, window), 60)) + 1)
            replies = pipe.execute()
        except Exception as error:  # noqa: BLE001 - keep counting here; added again once Redis is back
            self._redis_down(error)
            return
        with self._lock:
            for ((key, window), added), total in zip(pending, replies[::2], strict=True):
                entry = self._counts.get((key, window))
                if entry is not None:
                    entry[0] -= added  # what was counted meanwhile stays pending
                    entry[1] = int(total)
            self._forget_ended(time.time())


def limiter(app: Flask | None = None) -> RateLimiter:
    from flask import current_app

    app = app or current_app
    found = app.extensions.get("locator_limiter")
    if found is None:
        # Tests count in their own process: a shared Redis would carry counts from one test (or run) to the next.
        url = "" if app.testing else str(app.config.get("REDIS_URL") or "")
        found = app.extensions["locator_limiter"] = RateLimiter(url, namespace=_namespace(str(app.config["STORE"])))
    return found  # type: ignore[no-any-return]


def _namespace(store: str) -> str:
    """Services on one Redis keep separate counts: one namespace per store."""
    import hashlib

    return hashlib.sha256(store.encode("utf-8")).hexdigest()[:12]


def client_id() -> str:
    return request.remote_addr or "unknown"


def check_rate(name: str, setting: object, *, exact: bool = True) -> None:
    """Count this request against ``setting`` (COUNT/SECONDS) for its client; 429 beyond (see RateLimiter)."""
    limit, window_s = parse_limit(setting)
    if not limit:
        return
    wait_s = limiter().hit(f"{name}:{client_id()}", limit=limit, window_s=window_s, exact=exact)
    if wait_s:
        raise TooManyRequests(f"more than {limit} requests in {window_s:g} s from this address; try again in "
                              f"{wait_s:.0f} s", retry_after_s=int(wait_s + 0.999))


def request_id() -> str:
    return str(g.get("request_id", "")) if has_request_context() else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra={"fields": ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", "") or request_id()
        if rid:
            line["request_id"] = rid
        line.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _configure_logging(fmt: str) -> None:
    if fmt != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        if type(handler) is logging.StreamHandler:  # ours (basicConfig), not pytest's capturing handlers
            handler.setFormatter(JsonFormatter())


def register(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = int(float(app.config.get("MAX_UPLOAD_MB", 20)) * 1024 * 1024)
    proxies = int(app.config.get("PROXY_COUNT", 0) or 0)  # type: ignore[call-overload]
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    _configure_logging(str(app.config.get("LOG_FORMAT", "json")).strip().lower())
    parse_limit(app.config.get("RATE_LIMIT"))  # a bad setting fails at start, not on every request
    parse_limit(app.config.get("REPORT_RATE_LIMIT"))

    @app.before_request
    def _start() -> Response | None:
        g.request_started = time.perf_counter()
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        if request.path.startswith(UNLIMITED_PREFIXES):
            return None
        try:
            check_rate("all", app.config.get("RATE_LIMIT"), exact=False)
        except TooManyRequests as error:
            return problem_response(error.to_problem(), 429, {"Retry-After": str(error.extra["retry_after_s"])})
        return None

    @app.after_request
    def _finish(response: Response) -> Response:
        rid = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-ID"] = rid
        if response.status_code == 429 and "Retry-After" not in response.headers:
            body = response.get_json(silent=True) or {}
            response.headers["Retry-After"] = str(body.get("retry_after_s", 60))
        started = g.get("request_started")
        user = g.get("locator_user")
        access_log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            "client": request.remote_addr, "user": getattr(user, "username", None), "request_id": rid}})
        return response
