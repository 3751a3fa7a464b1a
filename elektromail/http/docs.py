"""The API's own documentation routes: `/openapi.json`, the Swagger UI page `/docs`, and the
packaged Swagger UI files it loads from `/docs/static/` (no CDN: the server runs offline).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from klein import Klein
from twisted.web.http import CACHED
from twisted.web.iweb import IRequest

from elektromail.http import openapi
from elektromail.http.auth import CHALLENGE
from elektromail.http.jsonio import ApiError, write_error

SWAGGER_UI_VERSION = "5.35.0"  # npm swagger-ui-dist, vendored in static/swagger-ui/
STATIC_PREFIX = "/docs/static/"

JS = "text/javascript; charset=utf-8"


@dataclass(frozen=True)
class Asset:
    path: tuple[str, ...]  # under elektromail/http/static/
    content_type: str


ASSETS: dict[str, Asset] = {
    "swagger-ui-bundle.js": Asset(("swagger-ui", "swagger-ui-bundle.js"), JS),
    "swagger-ui.css": Asset(("swagger-ui", "swagger-ui.css"), "text/css; charset=utf-8"),
    "favicon-32x32.png": Asset(("swagger-ui", "favicon-32x32.png"), "image/png"),
    "favicon-16x16.png": Asset(("swagger-ui", "favicon-16x16.png"), "image/png"),
    "docs.js": Asset(("docs.js",), JS),
}

# Relative URLs, so the page also works behind a reverse proxy that adds a path prefix.
DOCS_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>elektromail API</title>
<link rel="stylesheet" href="docs/static/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/static/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/static/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/static/swagger-ui-bundle.js"></script>
<script src="docs/static/docs.js"></script>
</body>
</html>
"""

# The browser itself then refuses any request that leaves the server. Swagger UI styles
# elements inline and draws icons from data: URLs.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

CheckToken = Callable[..., bool]


@functools.cache
def asset_bytes(name: str) -> bytes:
    """The packaged file behind `ASSETS[name]`, read once."""
    node = resources.files("elektromail.http").joinpath("static", *ASSETS[name].path)
    return node.read_bytes()


@functools.cache
def _etag(name: str) -> bytes:
    return b'"' + hashlib.sha256(asset_bytes(name)).hexdigest()[:32].encode() + b'"'


def _allowed(request: IRequest, check_token: CheckToken) -> bool:
    # Positional: the check may name its flag `allow_query` or `query_allowed`. A check that
    # raises the app's 401 ApiError instead of returning False is answered by the app.
    return check_token(request, True) is not False


def add_docs_routes(app: Klein, check_token: CheckToken) -> None:
    """Register `GET /openapi.json`, `GET /docs` and `GET /docs/static/<asset>` on `app`.

    `check_token(request, allow_query=True) -> bool` is the app's token check, called with the
    flag positionally: True when no token is configured, or when the request carries the right
    one as `Authorization: Bearer` or (allowed here) as the `token` query parameter. When it
    returns False these routes answer 401 with `WWW-Authenticate` and a JSON error; a check
    that raises the app's 401 `ApiError` instead (`elektromail.http.auth.TokenCheck`) works
    too, the app's error handler answering. The static assets are open to everyone.
    """

    @app.route("/openapi.json", methods=["GET"], endpoint="docs_openapi_json")
    def openapi_json(request: IRequest) -> bytes:
        if not _allowed(request, check_token):
            return write_error(request, ApiError(401, "bearer token required", CHALLENGE))
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Access-Control-Allow-Origin", b"*")  # for editors and validators
        return openapi.document_json()

    @app.route("/docs", methods=["GET"], endpoint="docs_page")
    def docs_page(request: IRequest) -> bytes:
        if not _allowed(request, check_token):
            return write_error(request, ApiError(401, "bearer token required", CHALLENGE))
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        request.setHeader(b"Content-Security-Policy", DOCS_CSP.encode())
        # The page's URL may hold the token: keep it out of Referer headers and caches.
        request.setHeader(b"Referrer-Policy", b"no-referrer")
        request.setHeader(b"Cache-Control", b"no-store")
        return DOCS_PAGE

    @app.route(STATIC_PREFIX + "<string:asset>", methods=["GET"], endpoint="docs_static")
    def docs_static(request: IRequest, asset: str) -> bytes:
        if asset not in ASSETS:
            return write_error(request, ApiError(404, f"no such asset: {asset}"))
        request.setHeader(b"Content-Type", ASSETS[asset].content_type.encode())
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Cache-Control", b"no-cache")  # revalidated by ETag: cheap
        if request.setETag(_etag(asset)) is CACHED:
            return b""
        return asset_bytes(asset)
