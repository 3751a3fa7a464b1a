"""ELEKTROMAIL_HTTP_TOKEN guards every API route, found by enumeration rather than by a list:
the Klein app's url_map (every route registered, documented or not) and the OpenAPI document.
A route added later is covered without touching this file; only the open ones are listed
here, and they must stay pages and assets, not API data. The token is compared with
hmac.compare_digest, and nothing else decides.

tests/http/test_auth.py covers the answers' details (challenge header, error text, the
scheme's case, `?token=`) on a fixed list of routes.
"""

from __future__ import annotations

import hmac
import http.client
import json
import re
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from elektromail.config import Settings
from elektromail.http.app import ControlAPI
from elektromail.testing import MailServer

TOKEN = "security-token-0123456789"
USERS = "alice:alice@example.org:wonder,bob:builder"

# The routes anyone may fetch: the health check, and the web pages and their static files
# (the inbox at /, /ui/..., /assets/...; the API docs' assets). Each answers without the token
# and none of them is API data.
OPEN = {
    "/healthz",
    "/",
    "/ui",
    "/ui/",
    "/ui/<path:rest>",
    "/assets/<string:name>",
    "/docs/static/<string:asset>",
}
# Where a browser cannot send a header, the token may come as ?token= (EventSource, the docs).
QUERY_TOKEN = {"/events", "/docs", "/openapi.json"}
# Values for path arguments: real asset names for the open routes; for the others anything,
# since the token is checked before the handler looks.
ARGUMENTS = {"asset": "swagger-ui.css", "name": "app.css", "rest": "inbox", "uid": "1"}
STREAMS = {"/events"}  # answers with a stream: read the status line, then hang up


def _routes() -> list[tuple[str, str]]:
    """(method, rule) of every route the control API registers."""
    stub = SimpleNamespace(store=None, events=None)
    api = ControlAPI(stub, Settings(http_token=TOKEN), lambda name: None, reactor=object())
    return sorted(
        (method, rule.rule) for rule in api.app.url_map.iter_rules() for method in rule.methods
    )


ROUTES = _routes()
GUARDED = [(method, rule) for method, rule in ROUTES if rule not in OPEN]
OPEN_ROUTES = [(method, rule) for method, rule in ROUTES if rule in OPEN and method == "GET"]


def concrete(rule: str) -> str:
    """A path the rule matches: `/messages/<uid>` -> `/messages/1`."""
    path = rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1 : end].rsplit(":", 1)[-1]
        path = path[:start] + ARGUMENTS.get(name, "bob") + path[end + 1 :]
    if rule == "/messages/wait":  # answer at once, whatever earlier tests deleted
        path += "?timeout=0"
    return path


def with_query(path: str, query: str) -> str:
    return path + ("&" if "?" in path else "?") + query


def ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {rule}" for method, rule in routes]


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users=USERS, http_port=0, http_token=TOKEN) as server:
        server.inject("alice", b"Subject: hello\r\n\r\nhi\r\n")
        yield server


def request(
    mail: MailServer, method: str, path: str, authorization: str | None = None
) -> http.client.HTTPResponse:
    """Send `method path`; returns the response with its status and headers read (the body
    is read unless the route streams)."""
    connection = http.client.HTTPConnection(mail.host, mail.http_port, timeout=10)
    headers = {"Authorization": authorization} if authorization else {}
    body = None
    if method in ("POST", "PUT", "PATCH"):
        body, headers["Content-Type"] = b"{}", "application/json"
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    if path.split("?")[0] not in STREAMS or response.status == 401:
        response.body = response.read()
    connection.close()
    return response


def test_the_enumeration_finds_the_api():
    rules = {rule for _, rule in GUARDED}
    assert {"/inject", "/messages", "/users", "/config", "/events", "/openapi.json"} <= rules
    assert OPEN <= {rule for _, rule in ROUTES}, "an open route listed here no longer exists"


@pytest.mark.parametrize(("method", "rule"), GUARDED, ids=ids(GUARDED))
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer wrong",
        "Bearer " + TOKEN[:-1] + "x",  # same length
        "Bearer " + TOKEN + "x",
        "Bearer " + TOKEN[:-1],
        "Basic " + TOKEN,
        TOKEN,
    ],
    ids=["none", "wrong", "same-length", "longer", "prefix", "basic", "no-scheme"],
)
def test_every_api_route_answers_401_without_the_right_token(mail, method, rule, authorization):
    response = request(mail, method, concrete(rule), authorization)
    assert response.status == 401
    assert response.getheader("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize(("method", "rule"), GUARDED, ids=ids(GUARDED))
def test_every_api_route_lets_the_right_token_in(mail, method, rule):
    response = request(mail, method, concrete(rule), "Bearer " + TOKEN)
    assert response.status != 401


@pytest.mark.parametrize(("method", "rule"), GUARDED, ids=ids(GUARDED))
def test_a_token_in_the_query_opens_only_the_routes_a_browser_needs(mail, method, rule):
    right = request(mail, method, with_query(concrete(rule), "token=" + TOKEN))
    wrong = request(mail, method, with_query(concrete(rule), "token=wrong"))
    assert wrong.status == 401
    assert (right.status != 401) == (rule in QUERY_TOKEN)


@pytest.mark.parametrize(("method", "rule"), OPEN_ROUTES, ids=ids(OPEN_ROUTES))
def test_the_open_routes_are_pages_and_assets_not_api_data(mail, method, rule):
    response = request(mail, method, concrete(rule))
    assert response.status == 200
    content_type = response.getheader("Content-Type", "")
    if rule == "/healthz":
        assert json.loads(response.body) == {"status": "ok"}
    else:
        assert not content_type.startswith("application/json")
        assert b"alice" not in response.body and b"hello" not in response.body


def test_every_documented_operation_is_a_route_and_guarded(mail):
    document = json.loads(request(mail, "GET", "/openapi.json", "Bearer " + TOKEN).body)
    operations = [
        (method.upper(), path.replace("{", "<").replace("}", ">"))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head")
    ]
    assert len(operations) > 10
    registered = {(method, plain(rule)) for method, rule in ROUTES}
    assert set(operations) <= registered
    open_rules = {plain(rule) for rule in OPEN}
    for method, rule in operations:
        if rule not in open_rules:
            assert request(mail, method, concrete(rule)).status == 401, f"{method} {rule}"


def plain(rule: str) -> str:
    """The rule without converters: `/docs/static/<string:asset>` -> `/docs/static/<asset>`."""
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule)


@pytest.mark.parametrize(
    "path",
    [
        "//config",
        "/%63onfig",
        "/./config",
        "/config/",
        "/config;x",
        "/CONFIG",
        "/messages/../config",
        "/ui/../config",
        "/ui/%2e%2e/config",
        "/assets/../config",
        "/assets/%2e%2e%2fconfig",
        "/docs/static/../../config",
        "/healthz/../config",
        "/healthz?x=/config",
        "/users%2fbob",
        "/messages%00",
    ],
)
def test_no_spelling_of_a_path_reaches_api_data_without_the_token(mail, path):
    """Whatever a path variant routes to, it is refused, unknown, or a page: JSON answers are
    errors or the health check."""
    response = request(mail, "GET", path)
    if response.getheader("Content-Type", "").startswith("application/json"):
        data = json.loads(response.body)
        assert set(data) == {"error"} or data == {"status": "ok"}, (response.status, data)
    assert b"alice" not in response.body and b"smtp_port" not in response.body


# --- the comparison ---------------------------------------------------------------------------


@pytest.fixture
def compare_calls(monkeypatch) -> list[tuple[bytes, bytes]]:
    """Every call of hmac.compare_digest (the real one answers)."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


@pytest.mark.parametrize(
    "offered", ["wrong", TOKEN[:-1] + "x", TOKEN + "x", TOKEN], ids=["short", "same", "long", "ok"]
)
def test_the_token_is_compared_with_compare_digest(mail, compare_calls, offered):
    response = request(mail, "GET", "/config", "Bearer " + offered)
    assert response.status == (200 if offered == TOKEN else 401)
    assert (offered.encode(), TOKEN.encode()) in compare_calls


@pytest.mark.parametrize("verdict", [True, False])
def test_compare_digest_alone_decides(mail, monkeypatch, verdict):
    """No length check or `==` before it: whatever compare_digest says goes, for a token of
    another length too."""
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: verdict)
    offered = "not-the-token-and-not-its-length" if verdict else TOKEN
    response = request(mail, "GET", "/config", "Bearer " + offered)
    assert response.status == (200 if verdict else 401)
