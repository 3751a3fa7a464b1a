"""Issue 17's other routes in namespaces: the wait, transcripts, checks and the query language
see a namespace's mail only, with the server's token plus ?namespace= and with the namespace's
own token; a message of another namespace is nobody's (404), never another's answer."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.conftest import TOKEN, USERS
from tests.http.test_namespaces import make, send


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[MailServer, Api, dict, dict]]:
    """A server with a token; namespaces a and b, each with a message to bob over SMTP, and the
    default namespace with one too."""
    with MailServer(users=USERS, http_port=0, http_token=TOKEN) as mail:
        api = Api(mail, TOKEN)
        a, b = make(api, "ns-a"), make(api, "ns-b")
        send(mail, f"bob@{a['domain']}", "for a")
        send(mail, f"bob@{b['domain']}", "for b")
        send(mail, "user@example.com", "for default")
        mail.wait_for_messages(1, user="user")
        for ns in (a, b):
            scoped = Api(mail, ns["token"])
            assert scoped.get("/messages?wait=10&count=1").json()["total"] == 1
        yield mail, api, a, b


def ways(world, ns: dict) -> list[tuple[Api, dict]]:
    """(client, extra query) pairs that work in `ns`: its token, or the server's + ?namespace=."""
    mail, api, *_ = world
    return [(Api(mail, ns["token"]), {}), (api, {"namespace": ns["name"]})]


def path(base: str, **params) -> str:
    return base + ("?" + urllib.parse.urlencode(params) if params else "")


def test_the_wait_finds_only_the_namespace_s_mail(world):
    _, _, a, b = world
    for ns, subject in ((a, "for a"), (b, "for b")):
        for client, extra in ways(world, ns):
            answer = client.get(path("/messages/wait", q="subject:for", timeout="5", **extra))
            assert answer.status == 200, answer.body
            found = answer.json()["message"]
            assert found["subject"] == subject and found["user"] == "bob"
            assert f"namespace={ns['name']}" in found["raw_url"]
            assert client.get(found["raw_url"]).status == 200
            # what the other namespace and the default have is never found here
            other = "for b" if ns is a else "for a"
            timed = client.get(
                path("/messages/wait", q=f'subject:"{other}"', timeout="0.2", **extra)
            )
            assert timed.json()["timed_out"] is True


def test_the_query_language_lists_only_the_namespace_s_mail(world):
    _, api, a, _ = world
    for client, extra in ways(world, a):
        listed = client.get(path("/messages", q="subject:for", **extra)).json()
        assert [m["subject"] for m in listed["messages"]] == ["for a"]
    listed = api.get(path("/messages", q="subject:for")).json()
    assert [m["subject"] for m in listed["messages"]] == ["for default"]


@pytest.mark.parametrize("route", ["/messages/1/transcript", "/messages/1/checks"])
def test_a_message_is_read_in_its_namespace_and_is_nobody_s_elsewhere(world, route):
    _, api, a, b = world
    for client, extra in ways(world, a):
        answer = client.get(path(route, user="bob", **extra))
        assert answer.status == 200, answer.body
    # bob of namespace b has UID 1 too: b's answer is b's message, never a's
    transcript = Api(world[0], b["token"]).get(path("/messages/1/transcript", user="bob"))
    if route.endswith("transcript"):
        assert transcript.json()["recipients"][0]["address"].endswith(b["domain"])
    # the default namespace has no user bob of a namespace
    assert api.get(path(route, user="bob")).status == 404
    # a's token cannot ask in b
    assert Api(world[0], a["token"]).get(path(route, user="bob", namespace="ns-b")).status == 403


def test_transcripts_list_only_the_namespace_s_sessions(world):
    _, api, a, b = world
    for ns in (a, b):
        for client, extra in ways(world, ns):
            listed = client.get(path("/transcripts", **extra)).json()["transcripts"]
            addresses = {r["address"] for t in listed for r in t["recipients"]}
            assert addresses == {f"bob@{ns['domain']}"}, addresses
    listed = api.get("/transcripts").json()["transcripts"]
    assert {r["address"] for t in listed for r in t["recipients"]} == {"user@example.com"}
