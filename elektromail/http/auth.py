"""The control API's bearer token (ELEKTROMAIL_HTTP_TOKEN): who may read and change mail."""

from __future__ import annotations

import hmac

from elektromail.http.jsonio import ApiError

CHALLENGE = {b"WWW-Authenticate": b'Bearer realm="elektromail"'}


class TokenCheck:
    """Callable: `check(request, query_allowed=False)` raises a 401 ApiError unless the request
    carries the token (`Authorization: Bearer <token>`, or `?token=` where `query_allowed`).
    With no token configured every request passes."""

    def __init__(self, token: str | None) -> None:
        self._token = None if token is None else token.encode("utf-8")

    @property
    def required(self) -> bool:
        return self._token is not None

    def matches(self, offered: bytes) -> bool:
        """Whether `offered` is the server's token (False when none is configured)."""
        return self._token is not None and hmac.compare_digest(offered, self._token)

    def __call__(self, request, query_allowed: bool = False) -> None:
        if self._token is None:
            return
        offered = offered_token(request, query_allowed)
        if offered is None:
            raise ApiError(401, "bearer token required", CHALLENGE)
        # compare_digest takes as long for any wrong token of a given length.
        if not hmac.compare_digest(offered, self._token):
            raise ApiError(
                401,
                "invalid bearer token",
                {b"WWW-Authenticate": b'Bearer realm="elektromail", error="invalid_token"'},
            )


def offered_token(request, query_allowed: bool = False) -> bytes | None:
    """The bearer token a request offers (`?token=` too where `query_allowed`), or None."""
    offered = _from_header(request)
    if offered is None and query_allowed:
        values = request.args.get(b"token")
        offered = values[0] if values else None
    return offered


def _from_header(request) -> bytes | None:
    header = request.getHeader(b"authorization")
    if header is None:
        return None
    if isinstance(header, str):
        header = header.encode("latin-1")
    scheme, _, credentials = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return None
    return credentials.strip()
