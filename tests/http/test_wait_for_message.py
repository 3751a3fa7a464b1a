"""GET /messages/wait: the first message after a cursor that matches a query, with its links,
codes and attachments; delivered before, during and after the call; the cursor of listings;
time-outs, concurrent waiters, a client that leaves; and hostile parameters."""

from __future__ import annotations

import json
import smtplib
import time
import urllib.parse

import pytest

from tests.http.test_wait import subscribers, wait_until

SIGNUP = (
    "From: Acme <no-reply@acme.example>\r\nTo: bob@example.net\r\nSubject: Welcome aboard\r\n"
    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    '<p>Your verification code is <b>482913</b>.</p><a href="https://acme.example/v?token=T0k3n">'
    "Confirm</a>\r\n--b\r\nContent-Type: text/plain; name=terms.txt\r\n"
    "Content-Disposition: attachment; filename=terms.txt\r\n\r\nBe nice.\r\n--b--\r\n"
)


def mail_to(to: str, subject: str, body: str = "hello") -> str:
    return f"From: app@acme.example\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}\r\n"


def q(query: str) -> str:
    return urllib.parse.quote(query)


def cursor(api) -> int:
    return api.get("/messages?limit=1").json()["cursor"]


def test_the_answer_has_the_message_its_links_codes_and_attachments(api):
    api.inject(SIGNUP, user="bob")
    answer = api.get(f"/messages/wait?q={q('to:bob subject:welcome')}&timeout=5")
    assert answer.status == 200
    found = answer.json()
    message = found["message"]
    assert (found["timed_out"], message["subject"], message["user"]) == (
        False,
        "Welcome aboard",
        "bob",
    )
    assert message["code"] == "482913"
    assert [c["value"] for c in message["codes"]] == ["482913", "T0k3n"]
    assert message["links"] == [
        {"url": "https://acme.example/v?token=T0k3n", "text": "Confirm", "source": "html"}
    ]
    [attachment] = message["attachments"]
    assert attachment["filename"] == "terms.txt"
    download = api.get(attachment["url"], check=False)
    assert (download.status, download.body) == (200, b"Be nice.")
    raw = api.get(message["raw_url"], check=False)
    assert raw.body == SIGNUP.encode()
    assert "raw" not in message


def test_an_older_cursor_finds_a_message_delivered_before_the_call_at_once(api):
    old = cursor(api)
    api.inject(mail_to("bob@example.net", "Welcome"), user="bob")
    started = time.monotonic()
    found = api.get(f"/messages/wait?q={q('subject:welcome')}&after={old}&timeout=30").json()
    assert time.monotonic() - started < 5
    assert found["message"]["subject"] == "Welcome"


def test_messages_before_the_cursor_never_match(api):
    api.inject(mail_to("bob@example.net", "Welcome, stale"), user="bob")
    now = cursor(api)
    found = api.get(f"/messages/wait?q=welcome&after={now}&timeout=0.2").json()
    assert found == {"message": None, "cursor": now, "timed_out": True}


def test_a_message_delivered_during_the_call_answers_it(api, mail):
    now = cursor(api)
    before = subscribers(mail)
    conn = api.connect(timeout=30)
    conn.request("GET", f"/messages/wait?q={q('to:bob subject:Welcome')}&after={now}&timeout=30")
    wait_until(lambda: subscribers(mail) == before + 1)
    api.inject(mail_to("alice@example.org", "Welcome"), user="alice")  # wakes, does not match
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("a@acme.example", ["bob@example.net"], mail_to("bob@example.net", "Welcome"))
    found = json.loads(conn.getresponse().read())
    conn.close()
    assert (found["message"]["user"], found["message"]["subject"]) == ("bob", "Welcome")
    assert found["cursor"] == now + 2
    assert subscribers(mail) == before


def test_the_answers_cursor_leads_to_the_next_match(api):
    now = cursor(api)
    for n in range(3):
        api.inject(mail_to("bob@example.net", f"code {n}"), user="bob")
    seen = []
    after = now
    for _ in range(3):
        found = api.get(f"/messages/wait?q=code&after={after}&timeout=5").json()
        seen.append(found["message"]["subject"])
        after = found["cursor"]
    assert seen == ["code 0", "code 1", "code 2"]
    assert api.get(f"/messages/wait?q=code&after={after}&timeout=0").json()["timed_out"] is True


def test_without_after_the_oldest_match_answers(api):
    api.inject(mail_to("bob@example.net", "first"), user="bob")
    api.inject(mail_to("bob@example.net", "second"), user="bob")
    assert api.get("/messages/wait?q=to:bob").json()["message"]["subject"] == "first"


def test_a_time_out_is_200_with_timed_out(api):
    started = time.monotonic()
    answer = api.get("/messages/wait?q=nothing&timeout=1&after=7")
    assert 0.9 <= time.monotonic() - started < 10
    assert answer.status == 200
    assert answer.json() == {"message": None, "cursor": 7, "timed_out": True}


def test_user_and_mailbox_narrow_the_wait(api):
    now = cursor(api)
    api.inject(mail_to("x@y", "Hi"), user="alice")
    api.inject(mail_to("x@y", "Hi"), user="bob", mailbox="Archive")
    api.inject(mail_to("x@y", "Hi"), user="bob")
    found = api.get(f"/messages/wait?q=hi&user=bob&mailbox=INBOX&after={now}").json()
    assert (found["message"]["user"], found["message"]["mailbox"]) == ("bob", "INBOX")
    assert found["cursor"] == now + 3


def test_concurrent_waiters_each_get_their_own_message(api, mail):
    now = cursor(api)
    before = subscribers(mail)
    conns = []
    for who in ("alice", "bob", "user"):
        conn = api.connect(timeout=30)
        conn.request("GET", f"/messages/wait?q={q('to:' + who)}&after={now}&timeout=30")
        conns.append(conn)
    wait_until(lambda: subscribers(mail) == before + 3)
    for who in ("user", "bob", "alice"):
        api.inject(mail_to(f"{who}@example.net", f"for {who}"), user=who)
    answers = [json.loads(conn.getresponse().read()) for conn in conns]
    for conn in conns:
        conn.close()
    assert [a["message"]["subject"] for a in answers] == ["for alice", "for bob", "for user"]
    wait_until(lambda: subscribers(mail) == before)


def test_a_client_that_leaves_mid_wait_unsubscribes(api, mail):
    before = subscribers(mail)
    conn = api.connect()
    conn.request("GET", "/messages/wait?q=never&timeout=60")
    wait_until(lambda: subscribers(mail) == before + 1)
    conn.close()
    wait_until(lambda: subscribers(mail) == before)
    api.inject(mail_to("x@y", "never"))  # nobody is left to answer: nothing breaks
    assert api.get("/messages?q=never").json()["total"] == 1


def test_a_reset_after_the_cursor_does_not_hide_what_comes_next(api):
    for n in range(3):
        api.inject(mail_to("bob@example.net", f"old {n}"), user="bob")
    now = cursor(api)
    assert api.post("/reset").status == 200
    api.inject(mail_to("bob@example.net", "new"), user="bob")
    found = api.get(f"/messages/wait?after={now}&timeout=5").json()
    assert found["message"]["subject"] == "new"


def test_a_code_pattern_of_ones_own_comes_first(api):
    api.inject(mail_to("bob@x", "Ref", "Your code is 482913, reference ZX-42."), user="bob")
    pattern = q(r"ZX-(\d+)")
    found = api.get(f"/messages/wait?q=ref&code_pattern={pattern}").json()["message"]
    assert [c["value"] for c in found["codes"]] == ["42", "482913"]
    assert found["codes"][0]["kind"] == "pattern"


def test_mailto_links_only_when_asked(api):
    api.inject(
        "Subject: m\r\nContent-Type: text/html\r\n\r\n"
        '<a href="mailto:help@acme.example">help</a> <a href="https://acme.example/">home</a>\r\n'
    )
    plain = api.get("/messages/wait?q=subject:m").json()["message"]["links"]
    asked = api.get("/messages/wait?q=subject:m&mailto=yes").json()["message"]["links"]
    assert [link["url"] for link in plain] == ["https://acme.example/"]
    assert [link["url"] for link in asked] == ["mailto:help@acme.example", "https://acme.example/"]


# --- the listing: q, cursor, after ----------------------------------------------------------


def test_a_listing_gives_the_cursor_and_after_lists_what_came_later(api):
    api.inject(mail_to("bob@x", "one"), user="bob")
    first = api.get("/messages").json()
    api.inject(mail_to("bob@x", "two"), user="bob")
    later = api.get(f"/messages?after={first['cursor']}").json()
    assert [m["subject"] for m in later["messages"]] == ["two"]
    assert later["cursor"] == first["cursor"] + 1


def test_the_query_language_on_the_listing(api):
    api.inject(SIGNUP, user="bob")
    api.inject(mail_to("alice@example.org", "Welcome aboard"), user="alice")
    api.patch("/messages/1?user=alice", {"seen": True})
    query = q('subject:"welcome aboard" has:attachment is:unread')
    listed = api.get(f"/messages?q={query}")
    assert [m["user"] for m in listed.json()["messages"]] == ["bob"]
    assert api.get(f"/messages?q={q('-to:bob')}").json()["total"] == 1
    assert api.get(f"/messages?q={q('is:read')}&from=acme").json()["total"] == 1  # alice's
    assert api.get(f"/messages?q={q('is:read')}&from=no-reply").json()["total"] == 0


def test_a_message_view_has_links_and_codes(api):
    uid = api.inject(SIGNUP, user="bob")
    view = api.get(f"/messages/{uid}?user=bob").json()
    assert view["code"] == "482913"
    assert view["links"][0]["text"] == "Confirm"


def test_other_methods_on_the_wait_route_are_405(api):
    answer = api.patch("/messages/wait", {"seen": True})
    assert answer.status == 405
    assert answer.headers["Allow"].split(", ")[:1] == ["GET"]


# --- hostile input ---------------------------------------------------------------------------

BAD = [
    ("q=" + q("re:hello"), "q", "unknown key"),
    ("q=" + q('"open'), "q", "unbalanced quote"),
    ("q=" + q("before:someday"), "q", "not a date"),
    ("q=" + q("larger:huge"), "q", "not a size"),
    ("q=" + q("is:bogus"), "q", "is:bogus"),
    ("q=" + "x" * 1001, "q", "too long"),
    ("q=" + "+".join(["a"] * 33), "q", "too many terms"),
    ("q=%FF", "q", "not UTF-8"),
    ("after=-1", "after", "whole number"),
    ("after=soon", "after", "whole number"),
    ("after=" + "9" * 19, "after", "whole number"),
    ("timeout=-1", "timeout", "number"),
    ("timeout=61", "timeout", "number"),
    ("timeout=nan", "timeout", "number"),
    ("timeout=later", "timeout", "number"),
    ("code_pattern=" + q("(a+)+"), "code_pattern", "repeats"),
    ("code_pattern=" + q("(unclosed"), "code_pattern", "not a regular expression"),
    ("code_pattern=" + "a" * 201, "code_pattern", "characters long"),
    ("mailto=perhaps", "mailto", "true or false"),
]


@pytest.mark.parametrize(("query", "name", "says"), BAD, ids=[b[0][:30] for b in BAD])
def test_hostile_wait_parameters_are_400_saying_what(api, query, name, says):
    api.inject(mail_to("bob@x", "kept"), user="bob")
    answer = api.get(
        f"/messages/wait?{query}&timeout=0" if "timeout" not in query else f"/messages/wait?{query}"
    )
    assert answer.status == 400, answer.body
    assert f"'{name}'" in answer.error and says in answer.error
    assert api.get("/messages").json()["total"] == 1  # nothing lost


@pytest.mark.parametrize(("query", "name", "says"), [b for b in BAD if b[1] in ("q", "after")])
def test_hostile_listing_parameters_are_400(api, query, name, says):
    answer = api.get(f"/messages?{query}")
    assert answer.status == 400
    assert f"'{name}'" in answer.error and says in answer.error


def test_a_pattern_too_slow_for_the_message_is_400(api):
    api.inject(mail_to("bob@x", "slow", "1" * 3000 + "a!a"), user="bob")
    answer = api.get("/messages/wait?q=slow&code_pattern=" + q(r"\d*\d*\d*\d*\d*\d*!a"))
    assert answer.status == 400
    assert "took over" in answer.error
