"""The routes the web inbox reads and changes mail with: paged, ordered and searched listings,
mailboxes with counts, seen/flagged switches, deleting one message, and attachment downloads.
Each is checked over a real socket (and against the OpenAPI document by the client), with
malformed and hostile input, and with what IMAP sessions see of the change."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import sqlite3
import urllib.parse
from collections.abc import Iterator

import pytest

from elektromail.store.schema import SCHEMA_VERSION
from elektromail.testing import MailServer
from tests.http.client import Api
from tests.http.test_events import Stream


@contextlib.contextmanager
def imap_session(mail: MailServer) -> Iterator[imaplib.IMAP4]:
    imap = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
    imap.login("user", "pass")
    try:
        yield imap
    finally:
        imap.logout()


# --- listing: paging, order, search --------------------------------------------------------


def numbered(api: Api, count: int, user: str = "user", mailbox: str = "INBOX") -> None:
    for n in range(1, count + 1):
        api.inject(f"Subject: number {n}\r\n\r\nbody {n}\r\n", user=user, mailbox=mailbox)


def subjects(answer) -> list[str]:
    return [m["subject"] for m in answer.json()["messages"]]


def test_pages_newest_first_with_the_total(api):
    numbered(api, 7)
    first = api.get("/messages?order=newest&limit=3")
    assert subjects(first) == ["number 7", "number 6", "number 5"]
    assert (first.json()["count"], first.json()["total"]) == (3, 7)
    last = api.get("/messages?order=newest&limit=3&offset=6")
    assert subjects(last) == ["number 1"]
    assert api.get("/messages?order=newest&limit=3&offset=7").json()["messages"] == []


def test_oldest_first_stays_the_default(api):
    numbered(api, 3)
    assert subjects(api.get("/messages")) == ["number 1", "number 2", "number 3"]
    assert subjects(api.get("/messages?order=oldest&limit=2&offset=1")) == [
        "number 2",
        "number 3",
    ]


def test_the_total_without_a_limit_is_the_count(api):
    numbered(api, 4)
    listed = api.get("/messages?offset=1").json()
    assert (listed["count"], listed["total"]) == (3, 4)


def test_paging_combines_with_the_python_filters(api):
    numbered(api, 12)
    listed = api.get("/messages?subject=number%201&order=newest&limit=2").json()
    # number 1, 10, 11 and 12 match; newest first
    assert [m["subject"] for m in listed["messages"]] == ["number 12", "number 11"]
    assert listed["total"] == 4


def test_paging_spans_users_and_mailboxes(api):
    numbered(api, 2, user="alice")
    numbered(api, 2, user="bob", mailbox="Archive")
    listed = api.get("/messages?order=newest&limit=10").json()
    assert [(m["user"], m["mailbox"]) for m in listed["messages"]] == [
        ("bob", "Archive"),
        ("bob", "Archive"),
        ("alice", "INBOX"),
        ("alice", "INBOX"),
    ]
    assert api.get("/messages?user=bob&limit=1").json()["total"] == 2


SEARCHABLE = [
    # a decoded RFC 2047 subject
    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n\r\nplain\r\n",
    # a base64 text body
    "Subject: encoded\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"the secret word is Zebrafish").decode()
    + "\r\n",
    # an HTML-only body: text, not tags
    "Subject: markup\r\nContent-Type: text/html\r\n\r\n<p class='x'>Hello <b>Ocelot</b></p>\r\n",
    # the display name of a Cc address
    "Subject: copied\r\nCc: =?utf-8?q?Ren=C3=A9e?= <r@example.org>\r\n\r\nhi\r\n",
    # LIKE's own characters, found as themselves
    "Subject: 100% done_now\r\n\r\nC:\\temp\r\n",
]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("grusse", []),  # no folding of ü to u
        ("GRÜSSE aus", ["Grüße aus Köln"]),  # case folding makes ß and ss the same
        ("grüße", ["Grüße aus Köln"]),
        ("köln", ["Grüße aus Köln"]),
        ("zebrafish", ["encoded"]),
        ("ocelot", ["markup"]),
        ("class", []),  # inside a tag
        ("renée", ["copied"]),
        ("r@example.org", ["copied"]),
        ("0% done_", ["100% done_now"]),
        ("c:\\temp", ["100% done_now"]),
        ("1%0", []),  # no SQL wildcards: as a pattern these would match "100% done"
        ("d_ne", []),
        ("\\", ["100% done_now"]),
    ],
)
def test_q_searches_decoded_subject_addresses_and_body(api, q, expected):
    for raw in SEARCHABLE:
        api.inject(raw)
    answer = api.get("/messages?q=" + urllib.parse.quote(q))
    assert subjects(answer) == expected
    assert answer.json()["total"] == len(expected)


def test_q_pages_in_sql(api):
    numbered(api, 25)
    listed = api.get("/messages?q=%22body%202%22&order=newest&limit=3&offset=1").json()
    # the phrase "body 2": body 2, 20..25 match, 7 in all
    assert listed["total"] == 7
    assert [m["subject"] for m in listed["messages"]] == ["number 24", "number 23", "number 22"]
    # the words body and 2, anywhere: 2, 12, 20..25
    words = api.get("/messages?q=body%202&order=newest&limit=3&offset=1").json()
    assert words["total"] == 8


def test_q_finds_mail_delivered_over_smtp_and_fixtures(mail, api):
    import smtplib

    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as client:
        client.sendmail("a@example.com", ["bob@example.com"], b"Subject: hi\r\n\r\nQuokka\r\n")
    assert [m["user"] for m in api.get("/messages?q=quokka").json()["messages"]] == ["bob"]


def test_list_items_count_attachments(api):
    api.inject(ATTACHED)
    api.inject("Subject: plain\r\n\r\nno attachment\r\n")
    counts = [m["attachment_count"] for m in api.get("/messages").json()["messages"]]
    assert counts == [2, 0]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("offset=-5", "offset"),
        ("offset=1e3", "offset"),
        ("offset=" + "9" * 40, "offset"),
        ("order=", "order"),
        ("order=NEWEST", "order"),
        ("order=random", "order"),
    ],
)
def test_bad_paging_parameters_are_400_naming_them(api, query, field):
    answer = api.get("/messages?" + query)
    assert answer.status == 400
    assert repr(field) in answer.error


def test_a_huge_offset_is_an_empty_page(api):
    numbered(api, 2)
    listed = api.get("/messages?limit=5&offset=" + "9" * 18).json()
    assert (listed["messages"], listed["total"]) == ([], 2)


def test_a_long_poll_counts_matches_on_every_page(api, mail):
    numbered(api, 3)
    listed = api.get("/messages?limit=1&wait=5&count=3").json()
    assert (listed["count"], listed["total"], listed["timed_out"]) == (1, 3, False)


# --- mailboxes ---------------------------------------------------------------------------------


def test_mailboxes_with_message_and_unseen_counts(api):
    api.inject("Subject: a\r\n\r\n", flags=["\\Seen"])
    api.inject("Subject: b\r\n\r\n")
    api.inject("Subject: c\r\n\r\n", mailbox="Projects/2026")
    boxes = api.get("/mailboxes?user=user").json()
    assert boxes[0] == {"user": "user", "mailbox": "INBOX", "messages": 2, "unseen": 1}
    by_name = {b["mailbox"]: b for b in boxes}
    assert by_name["Projects/2026"]["messages"] == 1
    assert by_name["Projects"] == {
        "user": "user",
        "mailbox": "Projects",
        "messages": 0,
        "unseen": 0,
    }
    assert {"Sent", "Drafts", "Trash", "Junk", "Archive"} <= set(by_name)
    assert [b["mailbox"] for b in boxes[1:]] == sorted(b["mailbox"] for b in boxes[1:])


def test_mailboxes_of_every_user_in_creation_order(api):
    users = [b["user"] for b in api.get("/mailboxes").json()]
    assert list(dict.fromkeys(users)) == ["user", "alice", "bob"]


def test_mailboxes_of_an_unknown_user_is_404(api):
    answer = api.get("/mailboxes?user=nobody")
    assert answer.status == 404
    assert "nobody" in answer.error


def test_a_keyword_named_like_seen_is_not_seen(api):
    api.inject("Subject: a\r\n\r\n", flags=["Seen", "$Seenish"])
    assert api.get("/mailboxes?user=user").json()[0]["unseen"] == 1


# --- PATCH: seen and flagged -------------------------------------------------------------------


def test_seen_and_flagged_switches(api):
    uid = api.inject("Subject: a\r\n\r\n", flags=["$Work"])
    answer = api.patch(f"/messages/{uid}?user=user", {"seen": True, "flagged": True})
    assert answer.status == 200
    item = answer.json()
    assert set(item["flags"]) == {"$Work", "\\Flagged", "\\Seen"}
    assert item["subject"] == "a"
    answer = api.patch(f"/messages/{uid}?user=user&mailbox=INBOX", {"seen": False})
    assert set(answer.json()["flags"]) == {"$Work", "\\Flagged"}
    stored = api.get(f"/messages/{uid}?user=user").json()
    assert set(stored["flags"]) == {"$Work", "\\Flagged"}


def test_switching_to_the_state_it_has_changes_nothing(api):
    uid = api.inject("Subject: a\r\n\r\n", flags=["\\Seen"])
    assert api.patch(f"/messages/{uid}?user=user", {"seen": True}).json()["flags"] == ["\\Seen"]


def test_a_selected_imap_session_is_told_of_the_new_flags(api, mail):
    """RFC 9051 §7.5.2: a FETCH response with FLAGS tells the client of a change made by
    another party; a NOOP (§6.1.2) gives the server the chance to send it."""
    uid = api.inject("Subject: a\r\n\r\n")
    with imap_session(mail) as imap:
        imap.select("INBOX")
        api.patch(f"/messages/{uid}?user=user", {"seen": True})
        imap.noop()
        untagged = imap.untagged_responses.get("FETCH", [])
        assert any(b"\\Seen" in line for line in untagged), untagged


def test_patch_publishes_a_flags_event(api):
    uid = api.inject("Subject: a\r\n\r\n")
    stream = Stream(api)
    try:
        api.patch(f"/messages/{uid}?user=user", {"flagged": True})
        assert stream.event() == (
            "flags",
            {"user": "user", "mailbox": "INBOX", "uid": uid, "flags": ["\\Flagged"]},
        )
    finally:
        stream.close()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "expected 'seen' or 'flagged'"),
        ({"seen": "yes"}, "'seen'"),
        ({"seen": 1}, "'seen'"),
        ({"flagged": None}, "'flagged'"),
        ({"seen": True, "deleted": True}, "'deleted'"),
        ({"flags": ["\\Seen"]}, "'flags'"),
        ([True], "JSON object"),
        ("seen", "JSON object"),
    ],
)
def test_bad_switches_are_400(api, body, fragment):
    uid = api.inject("Subject: a\r\n\r\n")
    answer = api.patch(f"/messages/{uid}?user=user", body)
    assert answer.status == 400
    assert fragment in answer.error
    assert api.get(f"/messages/{uid}?user=user").json()["flags"] == []


def test_malformed_json_is_400(api):
    uid = api.inject("Subject: a\r\n\r\n")
    answer = api.request(
        "PATCH",
        f"/messages/{uid}?user=user",
        data=b'{"seen": tru',
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 400


def test_an_oversized_body_is_413():
    with MailServer(users="user:pass", http_port=0, max_message_size="1K") as mail:
        api = Api(mail)
        uid = api.inject("Subject: a\r\n\r\n")
        answer = api.request(
            "PATCH",
            f"/messages/{uid}?user=user",
            data=b'{"seen": true, "x": "' + b"a" * 600_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert answer.status == 413
        assert api.get(f"/messages/{uid}?user=user").json()["flags"] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/messages/9?user=user", 404),
        ("/messages/1?user=nobody", 404),
        ("/messages/1?user=user&mailbox=Nowhere", 404),
        ("/messages/0?user=user", 400),
        ("/messages/x?user=user", 400),
        ("/messages/99999999999?user=user", 404),
    ],
)
def test_patch_of_what_is_not_there(api, path, status):
    api.inject("Subject: a\r\n\r\n")
    answer = api.patch(path, {"seen": True})
    assert answer.status == status


# --- DELETE ------------------------------------------------------------------------------------


def test_delete_removes_one_message(api):
    first = api.inject("Subject: one\r\n\r\n")
    second = api.inject("Subject: two\r\n\r\n")
    assert api.delete(f"/messages/{first}?user=user").json() == {"ok": True}
    assert subjects(api.get("/messages")) == ["two"]
    assert api.get(f"/messages/{first}?user=user").status == 404
    assert api.delete(f"/messages/{first}?user=user").status == 404
    assert api.get(f"/messages/{second}?user=user").status == 200
    # the UID is not reused
    assert api.inject("Subject: three\r\n\r\n") == second + 1


def test_a_selected_imap_session_gets_the_expunge(api, mail):
    """RFC 9051 §7.5.1: EXPUNGE reports that a message was permanently removed."""
    api.inject("Subject: one\r\n\r\n")
    uid = api.inject("Subject: two\r\n\r\n")
    with imap_session(mail) as imap:
        imap.select("INBOX")
        api.delete(f"/messages/{uid}?user=user")
        imap.noop()
        assert imap.untagged_responses.get("EXPUNGE") == [b"2"]
        _, data = imap.uid("SEARCH", "ALL")
        assert data == [b"1"]


def test_a_copy_survives_the_deletion_of_its_original(api, mail):
    uid = api.inject("Subject: shared\r\n\r\nsame bytes\r\n")
    with imap_session(mail) as imap:
        imap.select("INBOX")
        assert imap.uid("COPY", str(uid), "Archive")[0] == "OK"
    api.delete(f"/messages/{uid}?user=user")
    copy = api.get("/messages/1?user=user&mailbox=Archive").json()
    assert copy["raw"] == "Subject: shared\r\n\r\nsame bytes\r\n"
    assert [m["mailbox"] for m in api.get("/messages?q=same%20bytes").json()["messages"]] == [
        "Archive"
    ]


def test_delete_needs_the_user_when_several_have_mail(api):
    api.inject("Subject: a\r\n\r\n", user="alice")
    api.inject("Subject: b\r\n\r\n", user="bob")
    answer = api.delete("/messages/1")
    assert answer.status == 400
    assert "'user'" in answer.error
    assert api.get("/messages").json()["total"] == 2


# --- attachments -------------------------------------------------------------------------------

ATTACHED = (
    "Subject: files\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    "--b\r\nContent-Type: application/pdf\r\n"
    "Content-Disposition: attachment; filename*=UTF-8''Rechnung%20%C3%BC.pdf\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"%PDF-1.4 fake").decode()
    + "\r\n--b\r\nContent-Type: image/png\r\nContent-ID: <logo@example>\r\n"
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    + "\r\n--b--\r\n"
)


def test_an_attachment_downloads_decoded(api):
    uid = api.inject(ATTACHED)
    detail = api.get(f"/messages/{uid}?user=user").json()
    assert [(a["index"], a["content_id"]) for a in detail["attachments"]] == [
        (0, None),
        (1, "logo@example"),
    ]
    answer = api.get(f"/messages/{uid}/attachments/0?user=user")
    assert answer.status == 200
    assert answer.body == b"%PDF-1.4 fake"
    assert answer.content_type == "application/pdf"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"Rechnung _.pdf\"; filename*=UTF-8''Rechnung%20%C3%BC.pdf"
    )
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"].startswith("sandbox")
    image = api.get(f"/messages/{uid}/attachments/1?user=user&mailbox=INBOX")
    assert (image.body, image.content_type) == (b"\x89PNG\r\n\x1a\n", "image/png")
    assert image.headers["Content-Disposition"] == "attachment"


@pytest.mark.parametrize(
    ("index", "status"),
    [("2", 404), ("9999999999999", 404), ("-1", 400), ("one", 400), ("1.0", 400), ("%C2%B2", 400)],
)
def test_attachment_numbers_out_of_range_or_malformed(api, index, status):
    uid = api.inject(ATTACHED)
    answer = api.get(f"/messages/{uid}/attachments/{index}?user=user")
    assert answer.status == status
    assert answer.error  # JSON, as every error


HOSTILE = (
    "Subject: hostile\r\n"
    'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
    '--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename="../../x\\"\r\n'
    ' .bashrc"\r\n\r\n<script>alert(1)</script>\r\n'
    "--b\r\nContent-Type: text/html;;; bogus\r\nContent-Disposition: attachment;"
    ' filename="a\x01b.html"\r\n\r\n<b>x</b>\r\n'
    "--b--\r\n"
)


def test_a_hostile_attachment_is_a_sandboxed_download_in_a_plain_name(api):
    uid = api.inject(HOSTILE)
    answer = api.get(f"/messages/{uid}/attachments/0?user=user")
    assert answer.content_type == "text/html"
    disposition = answer.headers["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert "/" not in disposition and ".." not in disposition.split("filename", 1)[1][:4]
    assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    odd = api.get(f"/messages/{uid}/attachments/1?user=user")
    assert odd.status == 200
    assert "\x01" not in odd.headers["Content-Disposition"]


def test_a_message_without_attachments_has_none_to_download(api):
    uid = api.inject("Subject: a\r\n\r\nbody\r\n")
    assert api.get(f"/messages/{uid}/attachments/0?user=user").status == 404


# --- the search index across an upgrade -------------------------------------------------------


def test_a_version_3_database_gets_its_search_index(tmp_path):
    """Bodies stored before the index existed are indexed when the file is opened."""
    db = str(tmp_path / "mail.db")
    with MailServer(users="user:pass", http_port=0, db=db) as mail:
        Api(mail).inject(ATTACHED)
        Api(mail).get("/messages")  # parsed, as every body was before version 6
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX bodies_unparsed")  # came with version 6
    conn.execute("DROP TABLE body_index")
    conn.execute("ALTER TABLE mailboxes DROP COLUMN first_recent_uid")  # came with version 5
    conn.execute("ALTER TABLE mailboxes DROP COLUMN highestmodseq")  # came with version 10
    conn.execute("DROP INDEX messages_modseq")  # came with version 13
    conn.execute("ALTER TABLE messages DROP COLUMN modseq")  # came with version 10
    conn.execute("ALTER TABLE bodies DROP COLUMN transcript")  # came with version 15
    conn.execute("ALTER TABLE mailboxes DROP COLUMN expunged_floor")  # came with version 16
    conn.execute("ALTER TABLE mailboxes DROP COLUMN expunged_count")  # came with version 16
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with MailServer(users="user:pass", http_port=0, db=db) as mail:
        api = Api(mail)
        assert subjects(api.get("/messages?q=see%20attached")) == ["files"]
        assert api.get("/messages").json()["messages"][0]["attachment_count"] == 2
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
