"""Namespaces over the control API: made, listed, dropped; every route scoped to one; each
kind of token (the server's, a namespace's, none configured) held to what it may see."""

from __future__ import annotations

import imaplib
import smtplib
import urllib.parse
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.conftest import TOKEN, USERS

RAW = "From: a@example.com\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\r\nbody\r\n"


def q(path: str, **params: str) -> str:
    return path + ("?" + urllib.parse.urlencode(params) if params else "")


@pytest.fixture(params=["no-token", "server-token"])
def server(request) -> Iterator[tuple[MailServer, Api]]:
    """A server without a token, or with TOKEN; and a client holding the server's authority."""
    token = TOKEN if request.param == "server-token" else None
    with MailServer(users=USERS, http_port=0, http_token=token) as mail:
        yield mail, Api(mail, token)


def make(api: Api, name: str | None = None) -> dict:
    answer = api.post("/namespaces", {"name": name} if name else None)
    assert answer.status == 201, answer.body
    return answer.json()


def send(mail: MailServer, to: str, subject: str, login: tuple[str, str] | None = None) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        if login is not None:
            smtp.login(*login)
        smtp.sendmail("a@example.com", [to], RAW.format(subject=subject).encode())


def subjects(api: Api, path: str = "/messages", **params: str) -> list[str]:
    answer = api.get(q(path, **params))
    assert answer.status == 200, answer.body
    return [m["subject"] for m in answer.json()["messages"]]


# --- making, listing, dropping ------------------------------------------------------------------


def test_a_new_namespace_has_a_name_a_domain_and_a_token(server):
    _mail, api = server
    made = make(api)
    assert made["token"].startswith("elektromail-ns-")
    assert made["domain"] == f"{made['name']}.ns.localhost"
    assert made["login_suffix"] == "@" + made["name"]
    assert made["users"] == made["messages"] == 0
    asked = make(api, "Team-A")
    assert asked["name"] == "team-a"
    listed = api.get("/namespaces").json()
    assert [n["name"] for n in listed] == [made["name"], "team-a"]
    assert "token" not in listed[0]


def test_a_taken_name_is_a_conflict(server):
    _, api = server
    make(api, "dup")
    assert api.post("/namespaces", {"name": "DUP"}).status == 409


@pytest.mark.parametrize(
    "name",
    ["", "-x", "x-", "a_b", "a.b", "..", "a/b", "ü", "x" * 41, "a b", "a%2fb", "ns\n"],
    ids=repr,
)
def test_a_malformed_name_is_refused_and_makes_nothing(server, name):
    _, api = server
    answer = api.post("/namespaces", {"name": name})
    assert answer.status == 400, answer.body
    assert "name" in answer.error
    assert api.get("/namespaces").json() == []


@pytest.mark.parametrize("body", [[], "x", {"name": 5}, {"name": "ok", "extra": 1}], ids=repr)
def test_a_malformed_body_is_refused(server, body):
    _, api = server
    assert api.post("/namespaces", body).status == 400
    assert api.post("/namespaces", data=b"{not json", check=False).status == 400


@pytest.mark.parametrize(
    "path",
    ["/namespaces/nosuch", "/namespaces/..", "/namespaces/%2e%2e", "/namespaces/" + "y" * 5000],
)
def test_an_unknown_or_impossible_namespace_is_404(server, path):
    _, api = server
    assert api.get(path, check=False).status == 404
    assert api.delete(path, check=False).status == 404


def test_an_unknown_namespace_parameter_is_404_and_a_malformed_one_400(server):
    _, api = server
    assert api.get("/messages?namespace=nosuch").status == 404
    assert api.get("/messages?namespace=..").status == 400
    assert api.get("/messages?namespace=" + "z" * 5000, check=False).status == 400
    assert api.get("/messages?namespace=%C3%BC", check=False).status == 400


def test_deleting_drops_users_mail_and_rules_and_the_token(server):
    mail, api = server
    made = make(api, "gone")
    send(mail, "bob@gone.ns.localhost", "one")
    assert api.get("/namespaces/gone").json()["messages"] == 1
    assert api.delete("/namespaces/gone").json() == {"ok": True}
    assert api.get("/namespaces").json() == []
    scoped = Api(mail, made["token"])
    answer = scoped.get("/messages", check=False)
    assert answer.status == 401
    assert "namespace token" in answer.error
    # made again under the same name: empty, and the old token still refused
    again = make(api, "gone")
    assert again["token"] != made["token"]
    assert Api(mail, again["token"]).get("/messages").json()["messages"] == []
    assert scoped.get("/messages", check=False).status == 401


# --- isolation: each route, each kind of token --------------------------------------------------


def test_mail_by_domain_lands_in_its_namespace_only(server):
    mail, api = server
    make(api, "one")
    make(api, "two")
    send(mail, "bob@one.ns.localhost", "to one")
    send(mail, "bob+tag@two.ns.localhost", "to two")
    send(mail, "bob@example.com", "to default")
    assert subjects(api, namespace="one") == ["to one"]
    assert subjects(api, namespace="two") == ["to two"]
    assert subjects(api) == ["to default"]
    one = api.get("/messages?namespace=one").json()["messages"][0]
    assert one["user"] == "bob"  # shown without the namespace


def test_mail_sent_after_auth_as_a_namespace_user_stays_in_it(server):
    mail, api = server
    made = make(api, "app")
    send(mail, "customer@gmail.example", "signed in", login=("sender@app", made["token"]))
    assert subjects(api, namespace="app") == ["signed in"]
    assert subjects(api, namespace="app", user="customer") == ["signed in"]
    assert subjects(api) == []


def test_a_scoped_token_sees_its_namespace_only(server):
    mail, api = server
    made = make(api, "mine")
    make(api, "theirs")
    send(mail, "bob@mine.ns.localhost", "mine")
    send(mail, "bob@theirs.ns.localhost", "theirs")
    send(mail, "bob@example.com", "default")
    scoped = Api(mail, made["token"])
    assert subjects(scoped) == ["mine"]
    assert subjects(scoped, namespace="mine") == ["mine"]
    for other in ("theirs", "nosuch"):
        assert scoped.get(q("/messages", namespace=other)).status == 403
    # a namespace's user spelled in full is nobody, from any view
    assert scoped.get(q("/messages", user="bob@theirs")).json()["messages"] == []
    assert api.get(q("/messages", user="bob@mine")).status == 404
    assert scoped.get("/namespaces").status == 403
    assert scoped.post("/namespaces", {"name": "x"}).status == 403
    assert scoped.delete("/namespaces/theirs").status == 403
    assert scoped.get("/namespaces/theirs").status == 403
    assert scoped.get("/namespaces/mine").json()["name"] == "mine"


# (method, path, body) of every scoped route; {uid} is a message of bob's in the view.
ROUTES = [
    ("GET", "/messages", None),
    ("GET", "/messages/{uid}", None),
    ("GET", "/messages/{uid}/raw", None),
    ("PATCH", "/messages/{uid}", {"seen": True}),
    ("GET", "/messages/{uid}/attachments/0", None),
    ("DELETE", "/messages/{uid}", None),
    ("GET", "/mailboxes", None),
    ("GET", "/users", None),
    ("POST", "/users", {"user": "carol", "password": "pw"}),
    ("DELETE", "/users/bob", None),
    ("GET", "/users/bob/quota", None),
    ("PUT", "/users/bob/quota", {"messages": 5}),
    ("POST", "/inject", {"user": "bob", "raw": RAW.format(subject="injected")}),
    ("GET", "/rules", None),
    ("PUT", "/rules", [{"recipient": "x@*", "action": "reject"}]),
    ("POST", "/purge", None),
    ("POST", "/reset", None),
    ("GET", "/config", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
@pytest.mark.parametrize("holder", ["server-token-with-parameter", "scoped-token"])
def test_each_route_in_a_namespace_leaves_the_others_alone(server, method, path, body, holder):
    mail, api = server
    made = make(api, "inside")
    make(api, "beside")
    send(mail, "bob@inside.ns.localhost", "inside")
    send(mail, "bob@beside.ns.localhost", "beside")
    send(mail, "bob@example.com", "default")
    rules_before = api.get("/rules").json()
    if holder == "scoped-token":
        client, extra = Api(mail, made["token"]), {}
    else:
        client, extra = api, {"namespace": "inside"}
    listed = client.get(q("/messages", user="bob", **extra)).json()["messages"]
    assert [m["subject"] for m in listed] == ["inside"]
    target = path.replace("{uid}", str(listed[0]["uid"]))
    params = dict(extra)
    if "{uid}" in path:
        params["user"] = "bob"
    answer = client.request(method, q(target, **params), body, check="attachments" not in path)
    assert answer.status in (200, 201, 404), (answer.status, answer.body)
    if path == "/users" and method == "GET":
        assert [u["user"] for u in answer.json()] == ["bob"]
    if path == "/mailboxes":
        assert {b["user"] for b in answer.json()} == {"bob"}
    if path == "/config":
        assert answer.json()["user_count"] == 1
    # the others are untouched
    assert subjects(api, namespace="beside") == ["beside"]
    assert subjects(api) == ["default"]
    assert [u["user"] for u in api.get("/users").json()] == ["user", "alice", "bob"]
    assert api.get("/rules").json() == rules_before
    assert api.get("/rules?namespace=beside").json() == []
    assert api.get("/users/bob/quota").json()["messages"]["own"] is None


def test_rules_are_per_namespace(server):
    mail, api = server
    make(api, "strict")
    rules = [{"recipient": "*", "action": "reject", "diagnostic": "nope"}]
    assert api.put("/rules?namespace=strict", rules).status == 200
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(mail, "bob@strict.ns.localhost", "refused")
    send(mail, "bob@example.com", "accepted")
    assert subjects(api) == ["accepted"]
    assert api.get("/rules").json() == []


def test_a_reset_of_the_default_namespace_keeps_the_namespaces(server):
    mail, api = server
    make(api, "keep")
    send(mail, "bob@keep.ns.localhost", "kept")
    send(mail, "newbie@example.com", "default")
    assert api.post("/reset").status == 200
    assert subjects(api) == []
    assert [u["user"] for u in api.get("/users").json()] == ["user", "alice", "bob"]
    assert subjects(api, namespace="keep") == ["kept"]
    assert api.post("/reset?namespace=keep").status == 200
    assert subjects(api, namespace="keep") == []
    assert api.get("/users?namespace=keep").json() == []


def test_a_purge_of_a_namespace_keeps_the_others(server):
    mail, api = server
    make(api, "p")
    send(mail, "bob@p.ns.localhost", "p")
    send(mail, "bob@example.com", "default")
    assert api.post("/purge?namespace=p").json() == {"ok": True, "deleted": 1}
    assert subjects(api) == ["default"]
    assert api.post("/purge").json() == {"ok": True, "deleted": 1}


def test_the_long_poll_hears_its_namespace_only(server):
    mail, api = server
    make(api, "w")
    send(mail, "bob@example.com", "default")  # would satisfy an unscoped wait at once
    answer = api.get("/messages?namespace=w&wait=0.3")
    assert answer.json()["timed_out"] is True
    send(mail, "bob@w.ns.localhost", "w")
    answer = api.get("/messages?namespace=w&wait=5").json()
    assert [m["subject"] for m in answer["messages"]] == ["w"] and not answer["timed_out"]


def test_the_event_stream_carries_its_namespace_only(server):
    mail, api = server
    made = make(api, "ev")
    conn = Api(mail, made["token"]).connect()
    conn.request("GET", "/events", headers={"Authorization": f"Bearer {made['token']}"})
    stream = conn.getresponse()
    assert stream.status == 200
    assert b"subscribed" in stream.fp.readline() + stream.fp.readline() + stream.fp.readline()
    send(mail, "bob@example.com", "default")
    send(mail, "carol@ev.ns.localhost", "ev")
    lines = []
    while not any(line.startswith(b"data:") for line in lines):
        lines.append(stream.fp.readline())
    data = next(line for line in lines if line.startswith(b"data:"))
    assert b'"user": "carol"' in data
    conn.close()


def test_imap_logs_in_as_user_at_namespace(server):
    mail, api = server
    made = make(api, "box")
    send(mail, "dora@box.ns.localhost", "for dora")
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    assert imap.login("dora@box", made["token"])[0] == "OK"
    imap.select("INBOX")
    assert imap.search(None, "ALL")[1] == [b"1"]
    imap.logout()
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    with pytest.raises(imaplib.IMAP4.error):
        imap.login("dora@box", "wrong")
    with pytest.raises(imaplib.IMAP4.error):
        imap.login("dora@nosuch", made["token"])
    imap.logout()


def test_a_user_added_with_a_password_logs_in_with_it(server):
    mail, api = server
    make(api, "pw")
    assert api.post("/users?namespace=pw", {"user": "eve", "password": "secret"}).status == 201
    assert [u["user"] for u in api.get("/users?namespace=pw").json()] == ["eve"]
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    assert imap.login("eve@pw", "secret")[0] == "OK"
    imap.logout()


def test_deleting_a_namespace_ends_its_imap_sessions(server):
    mail, api = server
    made = make(api, "bye")
    imap = imaplib.IMAP4(mail.host, mail.imap_port)
    imap.login("fred@bye", made["token"])
    imap.select("INBOX")
    api.delete("/namespaces/bye")
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        imap.noop()
        imap.noop()


def test_auth_disabled_logs_a_namespace_user_in_with_any_password():
    with MailServer(users=USERS, http_port=0, auth_disabled=True) as mail:
        api = Api(mail)
        make(api, "open")
        imap = imaplib.IMAP4(mail.host, mail.imap_port)
        assert imap.login("gus@open", "anything")[0] == "OK"
        imap.logout()
        assert [u["user"] for u in api.get("/users?namespace=open").json()] == ["gus"]
        assert "gus@open" not in [u["user"] for u in api.get("/users").json()]
