"""ELEKTROMAIL_HTTP_TOKEN: a bearer token for every route that reads or changes state; open
health and static assets; `?token=` only where a browser cannot send a header."""

from __future__ import annotations

import pytest

from tests.http.client import Api
from tests.http.conftest import TOKEN

PROTECTED = [
    ("POST", "/reset", {}),
    ("POST", "/purge", {}),
    ("POST", "/inject", {"user": "user", "raw": "Subject: x\r\n\r\n"}),
    ("GET", "/users", None),
    ("POST", "/users", {"user": "carol", "password": "pw"}),
    ("DELETE", "/users/bob", None),
    ("GET", "/config", None),
    ("GET", "/messages", None),
    ("GET", "/messages?wait=0", None),
    ("GET", "/messages/1?user=user", None),
    ("GET", "/messages/1/raw?user=user", None),
    ("PATCH", "/messages/1?user=user", {"seen": True}),
    ("DELETE", "/messages/1?user=user", None),
    ("GET", "/messages/1/attachments/0?user=user", None),
    ("GET", "/mailboxes", None),
    ("GET", "/rules", None),
    ("PUT", "/rules", []),
    ("GET", "/openapi.json", None),
    ("GET", "/docs", None),
]
WITH_ATTACHMENT = (
    'Subject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    "--b\r\nContent-Type: text/plain; name=a.txt\r\n\r\nattached\r\n--b--\r\n"
)
IDS = [f"{method} {path}" for method, path, _ in PROTECTED]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=IDS)
def test_without_a_token_every_state_route_is_401(guarded, method, path, body):
    answer = Api(guarded).request(method, path, body)
    assert answer.status == 401
    assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="elektromail"')
    assert answer.error == "bearer token required"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=IDS)
def test_a_wrong_token_is_401(guarded, method, path, body):
    answer = Api(guarded, "wrong").request(method, path, body)
    assert answer.status == 401
    assert "invalid_token" in answer.headers["WWW-Authenticate"]
    assert answer.error == "invalid bearer token"


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=IDS)
def test_the_right_token_is_let_in(guarded, method, path, body):
    api = Api(guarded, TOKEN)
    api.inject(WITH_ATTACHMENT)
    answer = api.request(method, path, body)
    assert answer.status in (200, 201)


@pytest.mark.parametrize(
    "authorization",
    [f"bearer {TOKEN}", f"BEARER  {TOKEN} "],
    ids=["lower-case scheme", "spaces"],
)
def test_the_scheme_is_case_insensitive(guarded, authorization):
    answer = Api(guarded).get("/config", headers={"Authorization": authorization})
    assert answer.status == 200


@pytest.mark.parametrize(
    "authorization",
    [f"Basic {TOKEN}", TOKEN, "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_other_authorization_headers_are_refused(guarded, authorization):
    answer = Api(guarded).get("/config", headers={"Authorization": authorization})
    assert answer.status == 401


@pytest.mark.parametrize("path", ["/config", "/messages", "/users", "/rules"])
def test_the_token_in_the_query_is_refused_on_api_routes(guarded, path):
    assert Api(guarded).get(f"{path}?token={TOKEN}").status == 401


@pytest.mark.parametrize("path", ["/openapi.json", "/docs"])
def test_the_token_in_the_query_is_accepted_on_the_docs(guarded, path):
    assert Api(guarded).get(f"{path}?token={TOKEN}").status == 200


def test_healthz_and_static_assets_are_open(guarded):
    api = Api(guarded)
    assert api.get("/healthz").status == 200
    assert api.get("/docs/static/swagger-ui.css").status == 200


def test_without_a_configured_token_any_authorization_is_ignored(api):
    assert api.get("/config", headers={"Authorization": "Bearer whatever"}).status == 200
    assert api.get("/config").json()["http_token_required"] is False
