"""The web inbox's routes over HTTP: the one page at `/` and `/ui/...` with its strict policy,
the packaged assets with their types and ETags, all open without the token (they hold no mail),
and nothing served that is not packaged."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from klein import Klein

from elektromail.http import ui
from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.conftest import TOKEN, USERS

STATIC_UI = Path(ui.__file__).parent / "static" / "ui"
PAGES = ["/", "/ui", "/ui/", "/ui/alice/INBOX/7", "/?user=alice&q=x"]


@pytest.fixture(scope="module")
def open_api() -> Iterator[Api]:
    with MailServer(users=USERS, http_port=0) as server:
        yield Api(server)


@pytest.fixture(scope="module")
def guarded_api() -> Iterator[Api]:
    with MailServer(users=USERS, http_port=0, http_token=TOKEN) as server:
        yield Api(server)


class Links(HTMLParser):
    """The URLs a page loads (src, href) and its iframe's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.frames: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for name in ("src", "href"):
            value = found.get(name)
            if value and not value.startswith("#"):
                self.urls.append(value)
        if tag == "iframe":
            self.frames.append(found)


def parse(page: bytes) -> Links:
    links = Links()
    links.feed(page.decode("utf-8"))
    return links


def policy(header: str) -> dict[str, list[str]]:
    out = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        out[name] = values
    return out


# --- the page ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_path_serves_the_inbox_page(open_api, path):
    answer = open_api.get(path)
    assert answer.status == 200
    assert answer.content_type == "text/html; charset=utf-8"
    assert b"<title>elektromail</title>" in answer.body
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Content-Security-Policy"] == ui.PAGE_CSP


def test_page_policy_allows_scripts_only_from_the_server():
    csp = policy(ui.PAGE_CSP)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]  # no inline script: mail text can never run
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    assert csp["frame-src"] == ["'self'"]


def test_page_policy_lets_the_mail_frame_have_styles_and_asked_for_images():
    """The srcdoc frame inherits the page's policy: what mail needs must be allowed here (the
    frame's own policy then blocks remote images until the reader asks)."""
    csp = policy(ui.PAGE_CSP)
    assert set(csp["style-src"]) == {"'self'", "'unsafe-inline'"}
    assert set(csp["img-src"]) == {"'self'", "data:", "http:", "https:"}


@pytest.mark.parametrize(
    ("path", "root"),
    [
        ("/", "./"),
        ("/ui", "./"),
        ("/ui/", "../"),
        ("/ui/alice/INBOX/7", "../../../"),
    ],
)
def test_page_links_lead_back_to_the_assets_from_any_depth(open_api, path, root):
    page = open_api.get(path).body
    links = parse(page)
    assert f"{root}assets/app.js".encode() in page
    for url in links.urls:
        target = urljoin(f"http://h{path}", url)
        assert target.startswith("http://h/"), url
        answer = open_api.get(target.removeprefix("http://h"))
        assert answer.status == 200, (url, answer.status)


def test_endpoints_names_every_page_route():
    """`ui.ENDPOINTS` tells the page's routes from the API's (the OpenAPI checks skip them)."""
    app = Klein()
    ui.add_ui_routes(app)
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(ui.ENDPOINTS)


@pytest.mark.parametrize(
    ("path", "root"),
    [(b"/", "./"), (b"/ui", "./"), (b"/ui/", "../"), (b"/ui/a/b", "../../"), (b"/ui/a%2Fb", "../")],
)
def test_root_for(path, root):
    assert ui.root_for(path) == root


def test_mail_frame_is_sandboxed_without_scripts_or_same_origin(open_api):
    [frame] = parse(open_api.get("/").body).frames
    tokens = set((frame["sandbox"] or "").split())
    assert "allow-scripts" not in tokens and "allow-same-origin" not in tokens
    assert tokens <= {"allow-popups", "allow-popups-to-escape-sandbox"}
    assert frame["referrerpolicy"] == "no-referrer"


def test_page_has_no_inline_script_or_style():
    page = (STATIC_UI / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page and "<style" not in page


def test_page_is_revalidated_with_its_etag(open_api):
    first = open_api.get("/ui")
    assert first.headers["Cache-Control"] == "no-cache"
    again = open_api.get("/ui", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304 and again.body == b""


def test_head_of_the_page_has_no_body(open_api):
    answer = open_api.request("HEAD", "/")
    assert answer.status == 200 and answer.body == b""


def test_posting_to_the_page_is_json_405(open_api):
    answer = open_api.post("/", {})
    assert answer.status == 405 and answer.error


# --- the assets --------------------------------------------------------------------------------

TYPES = {
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "svg": "image/svg+xml",
}


@pytest.mark.parametrize("name", ui.ASSETS)
def test_every_asset_is_served_with_its_type_and_etag(open_api, name):
    answer = open_api.get(f"/assets/{name}")
    assert answer.status == 200
    assert answer.content_type == TYPES[name.rsplit(".", 1)[1]]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.body == (STATIC_UI / name).read_bytes()
    again = open_api.get(f"/assets/{name}", headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status == 304 and again.body == b""


def test_a_changed_etag_gets_the_file_again(open_api):
    answer = open_api.get("/assets/app.css", headers={"If-None-Match": '"stale"'})
    assert answer.status == 200 and answer.body


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nope.js",
        "/assets/index.html",  # the page is not an asset
        "/assets/..%2Fui.py",
        "/assets/app.js.map",
        "/assets/",
    ],
)
def test_unknown_assets_are_json_404(open_api, path):
    answer = open_api.get(path)
    assert answer.status == 404
    assert answer.error


def test_every_packaged_file_is_the_page_or_a_served_asset():
    files = {p.name for p in STATIC_UI.iterdir() if p.is_file()}
    assert files == {"index.html", *ui.ASSETS}


def test_every_module_import_names_a_served_asset():
    for name in ui.ASSETS:
        if name.endswith(".js"):
            source = (STATIC_UI / name).read_text()
            for imported in re.findall(r'from "\./([^"]+)"', source):
                assert imported in ui.ASSETS, (name, imported)


def test_no_script_writes_markup_from_strings():
    """Mail text only ever becomes text nodes: no innerHTML, outerHTML, insertAdjacentHTML or
    document.write anywhere in the page's scripts."""
    for name in ui.ASSETS:
        if name.endswith(".js"):
            source = (STATIC_UI / name).read_text()
            found = re.findall(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source)
            assert not found, (name, found)


# --- the token ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/ui/x", *(f"/assets/{name}" for name in ui.ASSETS)])
def test_page_and_assets_need_no_token(guarded_api, path):
    assert guarded_api.get(path).status == 200


def test_the_api_behind_the_page_still_wants_the_token(guarded_api):
    answer = guarded_api.get("/messages")
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
