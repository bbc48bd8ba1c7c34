"""The error tree. Every failure a user can cause is a LocatorError with an HTTP status and a stable slug.

Standard library only: every layer may raise these, and the web layer turns them into
``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations


class LocatorError(Exception):
    """Base of every error locator raises on purpose."""

    status, slug, title = 500, "internal", "Internal error"

    def __init__(self, detail: str, *, param: str | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self.param = param
        self.extra = extra

    def to_problem(self) -> dict[str, object]:
        """The RFC 9457 body: type, title, status, detail, and the offending parameter where there is one."""
        body: dict[str, object] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.param is not None:
            body["param"] = self.param
        body.update(self.extra)
        return body


class InvalidParameter(LocatorError):
    status, slug, title = 400, "invalid-parameter", "Invalid parameter"


class UnknownParameter(InvalidParameter):
    slug, title = "unknown-parameter", "Unknown parameter"


class OutsideServiceArea(LocatorError):
    status, slug, title = 422, "outside-service-area", "Outside the service area"


class NotRoutable(LocatorError):
    """A question about travel along the streets that the street network can't answer (no streets, or the
    point too far from any)."""

    status, slug, title = 422, "not-routable", "Not routable on the street network"


class NotFound(LocatorError):
    status, slug, title = 404, "not-found", "Not found"


class ValidationFailed(LocatorError):
    """Data that does not fit the model; ``problems`` lists file, row, column and reason."""

    status, slug, title = 422, "validation-failed", "Validation failed"


class ImportFailed(LocatorError):
    status, slug, title = 422, "import-failed", "Import failed"


class StoreUnavailable(LocatorError):
    status, slug, title = 503, "store-unavailable", "Store unavailable"


class NetworkUnavailable(LocatorError):
    """A remote service (the OpenStreetMap Overpass API) could not be reached or would not answer."""

    status, slug, title = 503, "network-unavailable", "Network or remote service unavailable"


class ConfigError(LocatorError):
    """A setting, or a file a setting names, that locator can't use; raised at start-up, before any request."""

    status, slug, title = 500, "bad-configuration", "Bad configuration"


class Conflict(LocatorError):
    status, slug, title = 409, "conflict", "Conflict"


class PreconditionFailed(LocatorError):
    status, slug, title = 412, "precondition-failed", "Precondition failed"


class Forbidden(LocatorError):
    status, slug, title = 403, "forbidden", "Forbidden"


class Unauthorized(LocatorError):
    status, slug, title = 401, "unauthorized", "Unauthorized"


class TooManyRequests(LocatorError):
    status, slug, title = 429, "too-many-requests", "Too many requests"
