"""Every refusal is JSON `{"error": ...}` with the right status: never an HTML page or a
traceback, whatever the client sends."""

from __future__ import annotations

import socket

import pytest
from twisted.internet.defer import fail

from elektromail.testing import MailServer
from tests.http.client import Api


@pytest.mark.parametrize(
    "path", ["/nope", "/uix", "/messages/1/nope", "/users/", "/inject/x", "/docs/static/nope.js"]
)
def test_unknown_routes_are_json_404(api, path):
    answer = api.get(path)
    assert answer.status == 404
    assert answer.error


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/reset", "POST"),
        ("GET", "/inject", "POST"),
        ("PATCH", "/messages", "GET, HEAD"),
        ("POST", "/messages/1", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/users/bob", "DELETE"),
        ("DELETE", "/rules", "GET, HEAD, PUT"),
        ("OPTIONS", "/users", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
    ],
)
def test_a_wrong_method_is_json_405_with_allow(api, method, path, allowed):
    answer = api.request(method, path)
    assert answer.status == 405
    assert answer.headers["Allow"] == allowed
    assert method in answer.error


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[1]", b'"text"', b"null", b"\xff\xfe", b'{"user": NaN}', b"[" * 100_000],
    ids=["empty", "truncated", "list", "string", "null", "not-utf8", "nan", "deep"],
)
@pytest.mark.parametrize("path", ["/inject", "/users"])
def test_a_body_that_is_not_a_json_object_is_400(api, path, data):
    answer = api.request("POST", path, data=data)
    assert answer.status == 400
    assert answer.error.startswith("body:")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/inject"), ("POST", "/users"), ("PUT", "/rules")]
)
def test_a_body_over_the_limit_is_413(method, path):
    with MailServer(http_port=0, max_message_size="1K") as mail:
        answer = Api(mail).request(method, path, data=b"[" + b" " * 100_000 + b"]")
        assert answer.status == 413
        assert answer.error


def test_a_path_that_is_not_utf8_is_400(api):
    answer = api.get("/users/%FF")
    assert answer.status == 400
    assert answer.error


@pytest.mark.parametrize("name", ["user", "subject", "mailbox"])
def test_a_query_parameter_that_is_not_utf8_is_400_naming_it(api, name):
    answer = api.get(f"/messages?{name}=%FF")
    assert answer.status == 400
    assert f"'{name}'" in answer.error


def test_an_internal_failure_is_json_500_without_a_traceback(api, mail):
    def broken():
        return fail(RuntimeError("disk on fire"))

    mail.call(setattr, mail.server.store, "list_users", broken)
    answer = api.get("/users", check=False)  # a 500 is in no document
    assert answer.status == 500
    assert answer.error == "internal server error"
    assert b"Traceback" not in answer.body and b"fire" not in answer.body
    assert api.get("/healthz").status == 200  # and the server goes on


def test_a_request_the_http_parser_refuses_does_not_hurt_the_next(api, mail):
    with socket.create_connection((mail.host, mail.http_port), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 400")
    assert api.get("/healthz").status == 200


def test_head_of_a_json_route_has_no_body(api):
    answer = api.request("HEAD", "/config")
    assert (answer.status, answer.body) == (200, b"")
    assert answer.content_type == "application/json"
