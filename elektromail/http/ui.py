"""The web inbox: one static page at `/` (and `/ui/...`) and its packaged scripts and styles at
`/assets/`, a browser client of the JSON API. Open without a token: the page holds no mail, and
asks for the token itself when the API wants one.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import resources

from klein import Klein
from twisted.web.http import CACHED
from twisted.web.iweb import IRequest

from elektromail.http.jsonio import ApiError, write_error

ASSETS_PREFIX = "/assets/"

TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The files under elektromail/http/static/ui/ that the page loads, and nothing else.
ASSETS = (
    "app.js",
    "api.js",
    "dialogs.js",
    "dom.js",
    "list.js",
    "live.js",
    "view.js",
    "checks.js",
    "transcript.js",
    "release.js",
    "app.css",
    "icon.svg",
)

# The Klein endpoints of the page's routes: not API routes, so not in the OpenAPI document.
ENDPOINTS = ("ui_root", "ui_page", "ui_page_slash", "ui_deep_page", "ui_asset")

ROOT_MARK = b"{{root}}"  # in index.html: the relative way back to the server's root

# A mail's HTML is shown in a sandboxed srcdoc frame, which inherits this policy: it allows the
# inline styles mail is written with and the remote images the reader may ask for (the frame's
# own policy blocks those until then). Scripts only from the server; nothing else leaves it.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: http: https:; connect-src 'self'; frame-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _file(name: str) -> bytes:
    return resources.files("elektromail.http").joinpath("static", "ui", name).read_bytes()


@functools.cache
def asset_bytes(name: str) -> bytes:
    """The packaged asset `name` (one of ASSETS), read once."""
    return _file(name)


@functools.cache
def page_bytes(root: str) -> bytes:
    """index.html with its links relative to the page's own URL (`root` leads back to `/`), so
    that the inbox also works behind a proxy that adds a path prefix."""
    return _file("index.html").replace(ROOT_MARK, root.encode())


@functools.cache
def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


def root_for(path: bytes) -> str:
    """The relative URL of the server's root from a page at `path`: "" for `/` and `/ui`,
    "../" for `/ui/`, "../../" for `/ui/a/b`."""
    depth = max(path.count(b"/") - 1, 0)
    return "../" * min(depth, 32) or "./"


def _send(request: IRequest, body: bytes, content_type: str) -> bytes:
    request.setHeader(b"Content-Type", content_type.encode())
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    request.setHeader(b"Cache-Control", b"no-cache")  # revalidated by ETag: cheap
    if request.setETag(_etag(body)) is CACHED:
        return b""
    return body


def add_ui_routes(app: Klein) -> None:
    """Register `GET /`, `GET /ui`, `GET /ui/` and `GET /ui/<anything>` (all the one page), and
    `GET /assets/<name>` (its scripts, styles and icon)."""

    def page(request: IRequest) -> bytes:
        request.setHeader(b"Content-Security-Policy", PAGE_CSP.encode())
        request.setHeader(b"X-Frame-Options", b"DENY")
        # The page's URL may hold ?token=: keep it out of Referer headers.
        request.setHeader(b"Referrer-Policy", b"no-referrer")
        return _send(request, page_bytes(root_for(request.path)), "text/html; charset=utf-8")

    @app.route("/", methods=["GET"], endpoint="ui_root")
    def root(request: IRequest) -> bytes:
        return page(request)

    @app.route("/ui", methods=["GET"], endpoint="ui_page")
    def ui(request: IRequest) -> bytes:
        return page(request)

    @app.route("/ui/", methods=["GET"], endpoint="ui_page_slash")
    def ui_slash(request: IRequest) -> bytes:
        return page(request)

    @app.route("/ui/<path:rest>", methods=["GET"], endpoint="ui_deep_page")
    def ui_deep(request: IRequest, rest: str) -> bytes:
        return page(request)

    @app.route(ASSETS_PREFIX + "<string:name>", methods=["GET"], endpoint="ui_asset")
    def asset(request: IRequest, name: str) -> bytes:
        if name not in ASSETS:
            return write_error(request, ApiError(404, f"no such asset: {name}"))
        return _send(request, asset_bytes(name), TYPES[name[name.rindex(".") :]])
