"""Passwords are never logged or returned. A server in a child process (its whole log captured,
debug lines included) gets its users' passwords from ELEKTROMAIL_USERS, from the command line
and from POST /users; they are then used, right and wrong, by SMTP AUTH PLAIN and LOGIN, IMAP
LOGIN and AUTHENTICATE PLAIN and LOGIN, and malformed exchanges. No password appears, as
itself or in base64, in the log or in any answer: not in the protocols' replies, and not in
GET /users, /config, /openapi.json or POST /users' answers.
"""

from __future__ import annotations

import base64
import http.client
import json

import pytest

from tests.imap.wire import ImapWire
from tests.smtp.wire import Wire

TOKEN = "password-test-token"
ALICE = "pw-Alice-3e9d1f"  # from ELEKTROMAIL_USERS
BOB = "pw-Bob-77a0c2"  # from ELEKTROMAIL_USERS
DAVE = "pw-Dave-5b6e10"  # from --users on the command line
CAROL = "pw-Carol-c41d08"  # from POST /users
REFUSED = "pw-Refused-9a2b37"  # in POST /users bodies that are refused
WRONG = "pw-Wrong-0f4e6a"  # tried in failed logins: a secret too (a typo of a real one)
SECRETS = (ALICE, BOB, DAVE, CAROL, REFUSED, WRONG)


def forms(secret: str) -> list[bytes]:
    """The password and the encodings a careless log line could carry it in."""
    raw = secret.encode()
    out = [raw, base64.b64encode(raw)]
    for user in (b"alice", b"bob", b"carol", b"dave"):
        out.append(base64.b64encode(b"\0" + user + b"\0" + raw))
        out.append(base64.b64encode(user + b"\0" + user + b"\0" + raw))
    return out


def leaks(text: bytes) -> list[str]:
    return [secret for secret in SECRETS for form in forms(secret) if form in text]


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


class Http:
    def __init__(self, port: int) -> None:
        self.port = port
        self.seen = b""

    def __call__(self, method: str, path: str, body: object = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        self.seen += str(response.headers).encode() + payload
        return response.status, payload


@pytest.fixture
def server(child_server):
    users = f"alice:alice@example.org:{ALICE},bob:{BOB}"
    env = {"ELEKTROMAIL_USERS": users, "ELEKTROMAIL_HTTP_TOKEN": TOKEN}
    # every line the server can write, the per-message and per-login ones too
    args = ["--smtp-port", "0", "--imap-port", "0", "--http-port", "0", "--log-messages"]
    # the command line wins over the environment: dave's users replace alice's and bob's there
    return child_server(args, env), child_server(
        [*args, "--users", f"dave:{DAVE}"], {"ELEKTROMAIL_HTTP_TOKEN": TOKEN}
    )


def smtp_exchanges(port: int, user: str, password: str) -> bytes:
    """AUTH PLAIN and LOGIN, right and wrong, and malformed; every reply."""
    seen = b""
    attempts = [
        [b"AUTH PLAIN " + b64(f"\0{user}\0{password}".encode())],
        [b"AUTH PLAIN " + b64(f"\0{user}\0{WRONG}".encode())],
        [b"AUTH PLAIN", b64(f"{user}\0{user}\0{password}".encode())],
        [b"AUTH LOGIN", b64(user.encode()), b64(password.encode())],
        [b"AUTH LOGIN " + b64(user.encode()), b64(WRONG.encode())],
        [b"AUTH PLAIN " + b64(f"{user}\0{password}".encode())],  # one NUL: malformed
        [b"AUTH PLAIN " + password.encode() + b"!"],  # not base64
        [b"AUTH LOGIN", password.encode() + b"!"],
        [b"AUTH PLAIN " + b64(f"bob\0{user}\0{password}".encode())],  # as someone else
    ]
    for lines in attempts:
        wire = Wire(port)
        seen += wire.greeting + wire.command(b"EHLO client.test")
        for line in lines:
            seen += wire.command(line)
        wire.close()
    return seen


def imap_exchanges(port: int, user: str, password: str) -> bytes:
    """LOGIN and AUTHENTICATE PLAIN and LOGIN, right and wrong, and malformed; everything."""
    seen = b""
    attempts = [
        [f"a LOGIN {user} {password}".encode()],
        [f'a LOGIN "{user}" "{WRONG}"'.encode()],
        [f"a LOGIN {user} {{{len(password)}+}}\r\n{password}".encode()],
        [b"a AUTHENTICATE PLAIN " + b64(f"\0{user}\0{password}".encode())],
        [b"a AUTHENTICATE PLAIN " + b64(f"\0{user}\0{WRONG}".encode())],
        [b"a AUTHENTICATE PLAIN", b64(f"{user}\0{user}\0{password}".encode())],
        [b"a AUTHENTICATE LOGIN", b64(user.encode()), b64(password.encode())],
        [b"a AUTHENTICATE LOGIN " + b64(user.encode()), b64(WRONG.encode())],
        [b"a AUTHENTICATE PLAIN " + password.encode() + b"!"],  # not base64
        [b"a AUTHENTICATE PLAIN", password.encode() + b"!"],
        [b"a AUTHENTICATE PLAIN " + b64(f"bob\0{user}\0{password}".encode())],
    ]
    for lines in attempts:
        wire = ImapWire(port)
        seen += wire.greeting
        first, *answers = lines
        wire.send(first + b"\r\n")
        for answer in answers:
            line = wire.line()
            seen += line
            assert line.startswith(b"+"), line
            wire.send(answer + b"\r\n")
        seen += wire.until(b"a") + wire.command(b"z LOGOUT")
        wire.close()
    return seen


def stopped_log(child) -> bytes:
    """Everything the server wrote, once it has stopped."""
    child.process.terminate()
    rest = child.process.stdout.read()
    child.process.wait(10)
    return child.output + rest


def test_no_password_is_logged_or_returned(server):
    main, dave = server
    main.wait_ready()
    dave.wait_ready()
    api = Http(main.ports["http"])
    seen = smtp_exchanges(main.ports["smtp"], "alice", ALICE)
    seen += imap_exchanges(main.ports["imap"], "bob", BOB)
    seen += smtp_exchanges(dave.ports["smtp"], "dave", DAVE)
    seen += imap_exchanges(dave.ports["imap"], "dave", DAVE)

    assert api("POST", "/users", {"user": "carol", "password": CAROL})[0] == 201
    assert api("POST", "/users", {"user": "carol", "password": REFUSED})[0] == 409
    assert api("POST", "/users", {"user": "bad name", "password": REFUSED})[0] == 400
    assert api("POST", "/users", {"user": "erin", "password": REFUSED, "email": "x"})[0] == 400
    assert api("POST", "/users", {"user": "erin", "password": [REFUSED]})[0] == 400
    seen += imap_exchanges(main.ports["imap"], "carol", CAROL)
    seen += smtp_exchanges(main.ports["smtp"], "carol", CAROL)
    for path in ("/users", "/users?include_email=true", "/config", "/openapi.json"):
        assert api("GET", path)[0] == 200
    dave_api = Http(dave.ports["http"])
    for path in ("/users", "/users?include_email=true", "/config"):
        assert dave_api("GET", path)[0] == 200

    log = stopped_log(main) + stopped_log(dave)
    # the log did see the logins, good and bad, and the new user
    for line in (b"SMTP AUTH PLAIN as alice", b"SMTP AUTH LOGIN refused for dave", b"user carol"):
        assert line in log
    assert leaks(log) == []
    assert leaks(seen) == []
    assert leaks(api.seen + dave_api.seen) == []


def test_the_logins_above_did_log_in(server):
    """The exchanges are the real thing: the right passwords are accepted."""
    main, _ = server
    main.wait_ready()
    wire = ImapWire(main.ports["imap"])
    assert wire.command(f"a LOGIN bob {BOB}".encode()).startswith(b"a OK ")
    wire.close()
    wire = Wire(main.ports["smtp"])
    wire.command(b"EHLO client.test")
    assert wire.command(b"AUTH PLAIN " + b64(f"\0alice\0{ALICE}".encode())).startswith(b"235")
    wire.close()


@pytest.mark.parametrize(
    ("args", "env"),
    [
        ([], {"ELEKTROMAIL_USERS": f"alice:{ALICE}:x:y"}),
        ([], {"ELEKTROMAIL_USERS": f"alice:nomail:{ALICE}"}),
        (["--users", f"alice:{ALICE},:{BOB}"], {}),
        ([], {"ELEKTROMAIL_USERS": f"alice:{ALICE},alice:{BOB}"}),
        (["--smtp-port", "nope"], {"ELEKTROMAIL_USERS": f"alice:{ALICE}"}),
    ],
    ids=["malformed", "bad-email", "empty-name-on-command-line", "duplicate", "other-setting"],
)
def test_a_refused_user_setting_does_not_print_its_passwords(child_server, args, env):
    child = child_server(["--imap-port", "0", *args], env)
    output = child.process.communicate(timeout=30)[0]
    assert child.process.returncode != 0
    assert b"elektromail:" in output
    assert leaks(output) == []


def test_passwords_are_not_in_the_ready_line_or_the_greetings(server):
    main, _ = server
    line = main.wait_ready().wait_for(b"elektromail ready")
    assert leaks(line) == []
    smtp = Wire(main.ports["smtp"])
    assert leaks(smtp.greeting) == []
    smtp.close()
    with ImapWire(main.ports["imap"]) as imap:
        assert leaks(imap.greeting) == []
