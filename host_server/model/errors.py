"""Domain errors: raised by db.py, catalog.py and auth.py; views.py and cli.py map them."""


class DomainError(Exception):
    """Base class; str(error) is a message for a human."""


class Invalid(DomainError):
    """The input is malformed (HTTP 400)."""


class Unauthorized(DomainError):
    """Authentication failed (HTTP 401)."""


class Forbidden(DomainError):
    """Authenticated, but not allowed (HTTP 403)."""


class NotFound(DomainError):
    """No such thing (HTTP 404)."""


class Conflict(DomainError):
    """Already exists (HTTP 409)."""


class RateLimited(DomainError):
    """Too many requests of this kind from this caller (HTTP 429); retry_after is in whole
    seconds."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


class TooManyFailures(RateLimited):
    """Too many failed logins or sign-ins (HTTP 429)."""


class Busy(RateLimited):
    """The server is doing as much of this as it may at once (HTTP 503); retry later."""


class QuotaExceeded(DomainError):
    """An owner holds as much as an owner may (HTTP 403)."""
