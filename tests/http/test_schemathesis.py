"""Schemathesis against the live control API: requests generated from the OpenAPI document,
valid and invalid ones, must never get a 5xx nor an answer the document does not describe.
Run with and without ELEKTROMAIL_HTTP_TOKEN; a fixed seed keeps the run repeatable."""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Iterator

import hypothesis
import pytest
import schemathesis

from elektromail.http import openapi
from elektromail.testing import MailServer

TOKEN = "fuzz-token"
SEED = int(os.environ.get("ELEKTROMAIL_FUZZ_SEED", "20251125"))
MAX_EXAMPLES = 25  # per operation and test, on top of the coverage phase's cases
WAIT_CAP = 0.05  # seconds: long-polls are generated with waits of up to a minute

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        # ASCII: where the server asks for printable text, the document can only exclude
        # control characters; Unicode's other unprintables have no regex class there.
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "codec": "ascii"},
        "phases": {"stateful": {"enabled": False}},
        "output": {"sanitization": {"enabled": False}},  # a test token: show what was sent
        "operations": [
            {
                # Dates are checked against the calendar (31-Nov is refused), which no
                # pattern in the document says: a valid-looking date may get a 400 here.
                "include-operation-id": "inject",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            *(
                {
                    # `user` may be left out only while one user has mail (the document
                    # cannot say so): with mail for two, a valid-looking request gets a 400.
                    "include-operation-id": operation,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
                for operation in (
                    "getMessage",
                    "getMessageRaw",
                    "patchMessage",
                    "deleteMessage",
                    "getAttachment",
                    "getMessageChecks",
                    "getMessageTranscript",
                    "getReleasePlan",
                )
            ),
            *(
                {
                    # A string that fits the schema is rarely a DKIM key or a DNS name.
                    "include-operation-id": operation,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
                for operation in ("putDkimKeys", "deleteDkimKeys")
            ),
            *(
                {
                    # `q` is a query language (README, Querying mail) that no pattern can
                    # describe: a string that fits the schema may be a malformed query (an
                    # unbalanced quote, an unknown key), answered 400 saying what is wrong.
                    "include-operation-id": operation,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
                for operation in ("listMessages", "waitForMessage")
            ),
            {
                # The relay is a closed port (nothing may reach the real world): a valid
                # release gets a 502; and an address that fits the pattern may still not be
                # a dot-atom address (`!!@-`), answered 400 naming it.
                "include-operation-id": "releaseMessage",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                # JSON Schema counts 250.0 as an integer; the rule parser wants 250.
                "include-operation-id": "putRules",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
        ],
    }
)
# /events is an endless stream: its 401 and its headers are tested in test_openapi.py.
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG).exclude(path="/events")

RAW = "From: ann@example.com\r\nTo: user@example.com\r\nSubject: Hello\r\n\r\nHi\r\n"


def send(port: int, method: str, path: str, body=None, headers=None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Target:
    """A running server, its base URL, and the headers every request carries."""

    def __init__(self, mail: MailServer, headers: dict[str, str]) -> None:
        self.port = mail.server.port("http")
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.headers = headers
        for user in ("user", "alice"):  # something for /messages/{uid} to find
            status = send(self.port, "POST", "/inject", {"user": user, "raw": RAW}, headers)
            assert status == 201

    def restore_rules(self) -> None:
        # A generated rule may delay or drop every SMTP connection, which /healthz would
        # then wait on; the fuzzing is about the API, not about those rules.
        assert send(self.port, "PUT", "/rules", [], self.headers) == 200


def closed_port() -> int:
    """A loopback port nothing listens on: POST /messages/{uid}/release relays to it, so a
    generated release never leaves the machine."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def relay_settings() -> dict[str, object]:
    return {"relay_host": "127.0.0.1", "relay_port": closed_port(), "relay_tls": "none"}


@pytest.fixture(scope="module")
def open_api() -> Iterator[Target]:
    with MailServer(http_port=0, users="user:pass,alice:wonder", **relay_settings()) as mail:
        yield Target(mail, {})


@pytest.fixture(scope="module")
def token_api() -> Iterator[Target]:
    with MailServer(
        http_port=0, users="user:pass,alice:wonder", http_token=TOKEN, **relay_settings()
    ) as mail:
        yield Target(mail, {"Authorization": f"Bearer {TOKEN}"})


def bound_wait(case: schemathesis.Case) -> None:
    """Cut a generated long-poll to WAIT_CAP seconds; invalid values are left to be refused."""
    for name in ("wait", "timeout"):  # timeout: GET /messages/wait's
        wait = (case.query or {}).get(name)
        if isinstance(wait, str):  # an explicit example's text
            try:
                wait = float(wait)
            except ValueError:
                continue
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > WAIT_CAP:
            case.query[name] = WAIT_CAP
    if case.operation.path == "/messages/wait" and "timeout" not in (case.query or {}):
        case.query = {**(case.query or {}), "timeout": WAIT_CAP}  # not the 30 s default


def run(case: schemathesis.Case, target: Target) -> None:
    bound_wait(case)
    headers = {**target.headers, **(case.headers or {})}
    try:
        case.call_and_validate(base_url=target.base_url, headers=headers, timeout=10)
    finally:
        if case.operation.path == "/rules" and case.method.upper() == "PUT":
            target.restore_rules()


@schema.parametrize()
@hypothesis.settings(deadline=None)
def test_api_without_token(case, open_api):
    run(case, open_api)


@schema.parametrize()
@hypothesis.settings(deadline=None, max_examples=MAX_EXAMPLES // 2)
def test_api_with_token(case, token_api):
    run(case, token_api)
