"""The one error base class. Domain errors subclass it next to the service that raises them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class C360Error(Exception):
    """An expected failure with an HTTP status; rendered as ``{"error": Name, "detail": …}``."""

    status_code: ClassVar[int] = 400
    headers: ClassVar[Mapping[str, str]] = {}  # sent with the response (WWW-Authenticate, Allow)

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def code(self) -> str:
        return type(self).__name__

    def response_headers(self) -> dict[str, str]:
        """The headers its response carries: the class's, and any of this instance."""
        return dict(self.headers)


class NotFound(C360Error):
    status_code = 404


class InvalidInput(C360Error):
    status_code = 422


class Conflict(C360Error):
    """The request contradicts the current state (two customers of one source merged)."""

    status_code = 409


class StoreUnavailable(C360Error):
    status_code = 503
    headers: ClassVar[Mapping[str, str]] = {"Retry-After": "1"}
