"""PREVIEW (RFC 8970): the text (elektromail.mailtext.preview, pure) and FETCH PREVIEW /
PREVIEW (LAZY) over real sockets, both dialects, mail not parsed yet, a restart, bad input.
The expected texts are the reference Dovecot's answers for the same messages, byte for byte."""

from __future__ import annotations

import imaplib

import pytest

from elektromail import mailtext, mime
from elektromail.testing import MailServer
from tests.imap.test_search_command import raw

PLAIN = (
    b"From: a@b.c\r\nSubject: hi\r\n\r\n  Hello   there,\r\n> quoted\r\nworld \xc3\xa9t\xc3\xa9\r\n"
)
ALTERNATIVE = (
    b"From: a@b.c\r\nSubject: h\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=XX\r\n\r\n--XX\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><body><p>Hi&nbsp;<b>bold</b></p></body></html>\r\n--XX\r\n"
    b"Content-Type: text/plain\r\n\r\nplain version\r\n--XX--\r\n"
)
LONG = b"From: a@b.c\r\nSubject: l\r\n\r\n" + b" ".join(b"word%d" % i for i in range(100)) + b"\r\n"
QUOTED = b"From: a@b.c\r\nSubject: q\r\n\r\n> only quoted text\r\n>   here\r\n"
EMPTY = b"From: a@b.c\r\nSubject: e\r\n\r\n"
ATTACHED_FIRST = (
    b"From: a@b.c\r\nSubject: a\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=YY\r\n\r\n--YY\r\n"
    b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--YY\r\n"
    b"Content-Type: text/plain; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 =\r\nsoft break\r\n--YY--\r\n"
)
HTML_ONLY = (
    b"From: a@b.c\r\nSubject: h\r\nContent-Type: text/html\r\n\r\n"
    b"<html><head><style>p {color: red}</style><script>x()</script></head>"
    b"<body><p>Dear&nbsp;reader &amp; friend</p><p>para two<br>line</p></body></html>\r\n"
)
PDF_ONLY = b"From: a@b.c\r\nContent-Type: application/pdf\r\n\r\nJVBERi0=\r\n"
# Dovecot's 200: 29 words and their spaces (RFC 8970 §3.1 allows 256)
LONG_PREVIEW = " ".join(f"word{i}" for i in range(30))[:200].rstrip()

CASES = [
    pytest.param(PLAIN, "Hello there, world été", id="plain-quoted-line-dropped"),
    pytest.param(ALTERNATIVE, "plain version", id="alternative-prefers-plain"),
    pytest.param(LONG, LONG_PREVIEW, id="cut-at-200"),
    pytest.param(QUOTED, ">only quoted text here", id="only-quoted"),
    pytest.param(EMPTY, "", id="empty"),
    pytest.param(ATTACHED_FIRST, "café soft break", id="first-text-part-decoded"),
    pytest.param(HTML_ONLY, "Dear\xa0reader & friend para two line", id="html-stripped"),
    pytest.param(PDF_ONLY, "", id="no-text-part"),
]


@pytest.mark.parametrize("message, expected", CASES)
def test_preview_text(message, expected):
    assert mailtext.preview(message, mime.parse(message).body) == expected


def test_a_preview_is_at_most_200_characters():
    text = b"From: a@b.c\r\n\r\n" + "\u00e9".encode() * 1000 + b"\r\n"
    found = mailtext.preview(text, mime.parse(text).body)
    assert found == "\u00e9" * 200


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        for message, _ in [(p.values[0], None) for p in CASES[:6]]:
            server.call(server.server.postoffice.inject, "user", "Previews", message)
        yield server


def connect(server: MailServer, *, rev2: bool = False, mailbox: str = "Previews"):
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    client.login("user", "pass")
    if rev2:
        raw(client, b"ENABLE IMAP4rev2")
    client.select(mailbox)
    return client


# Dovecot's answers to `FETCH 1:* (PREVIEW)` for the first six CASES (a rev1 session: the
# 8-bit ones as literals)
DOVECOT_FETCH = [
    b"* 1 FETCH (PREVIEW {24}",
    "Hello there, world été)".encode(),
    b'* 2 FETCH (PREVIEW "plain version")',
    b'* 3 FETCH (PREVIEW "' + LONG_PREVIEW.encode() + b'")',
    b'* 4 FETCH (PREVIEW ">only quoted text here")',
    b'* 5 FETCH (PREVIEW "")',
    b"* 6 FETCH (PREVIEW {16}",
    "café soft break)".encode(),
    b"OK FETCH completed",
]


def test_fetch_preview_answers_as_dovecot(mail):
    client = connect(mail)
    assert raw(client, b"FETCH 1:* (PREVIEW)") == DOVECOT_FETCH
    client.logout()


def test_lazy_of_a_parsed_message_gives_its_preview(mail):
    # RFC 8970 §3.2: LAZY may give NIL only when the preview is not readily available
    client = connect(mail)
    assert raw(client, b"FETCH 2 (PREVIEW (LAZY) UID)")[0] == (
        b'* 2 FETCH (PREVIEW "plain version" UID 2)'
    )
    assert raw(client, b"FETCH 2 PREVIEW (LAZY)")[0] == b'* 2 FETCH (PREVIEW "plain version")'
    client.logout()


def test_utf8_accept_and_rev2_quote_the_preview(mail):
    # RFC 6855 §3 / RFC 9051: UTF-8 in quoted strings once the client said it takes them
    for setup in (b"ENABLE UTF8=ACCEPT", b"ENABLE IMAP4rev2"):
        client = imaplib.IMAP4(mail.host, mail.imap_port, timeout=10)
        client.login("user", "pass")
        raw(client, setup)
        client.select("Previews")
        line = raw(client, b"FETCH 1 (PREVIEW)")[0]
        assert line == '* 1 FETCH (PREVIEW "Hello there, world été")'.encode()
        client.logout()


def test_capability_lists_preview(mail):
    client = connect(mail)
    assert b"PREVIEW" in raw(client, b"CAPABILITY")[0].split()
    client.logout()


@pytest.mark.parametrize(
    "items, message",
    [
        pytest.param(
            b"(PREVIEW (garbage))", b"garbage is not a supported PREVIEW modifier", id="unknown"
        ),
        pytest.param(b'(PREVIEW ("LAZY"))', b"not a supported PREVIEW modifier", id="quoted"),
        pytest.param(b"(PREVIEW ())", b"PREVIEW needs a modifier", id="empty-list"),
        pytest.param(b"(PREVIEW LAZY)", b"unknown fetch item LAZY", id="no-list"),
        pytest.param(b"(PREVIEW (LAZY) (LAZY))", b"fetch items must be atoms", id="two-lists"),
        pytest.param(b"(FLAGS (LAZY))", b"fetch items must be atoms", id="list-after-flags"),
        pytest.param(b"PREVIEW[]", b"PREVIEW takes no section", id="section"),
    ],
)
def test_bad_preview_arguments_are_bad(mail, items, message):
    client = connect(mail)
    [answer] = raw(client, b"FETCH 1 " + items)
    assert answer.startswith(b"BAD ") and message in answer, answer
    assert raw(client, b"NOOP")[-1] == b"OK NOOP completed"
    client.logout()


def test_lazy_gives_nil_until_the_message_is_parsed():
    # RFC 8970 §3.2: "the server MAY return NIL" when it has no preview at hand; a fetch
    # without LAZY makes it, and then LAZY has it too
    with MailServer() as server:
        server.call(server.server.postoffice.deliver, ["user@x"], PLAIN)
        client = connect(server, mailbox="INBOX")
        assert raw(client, b"FETCH 1 (PREVIEW (LAZY))")[0] == b"* 1 FETCH (PREVIEW NIL)"
        assert raw(client, b"FETCH 1 (PREVIEW)")[0] == b"* 1 FETCH (PREVIEW {24}"
        assert raw(client, b"FETCH 1 (PREVIEW (LAZY))")[0] == b"* 1 FETCH (PREVIEW {24}"
        client.logout()


def test_the_preview_survives_a_restart(tmp_path):
    db = str(tmp_path / "mail.db")
    with MailServer(db=db) as server:
        server.call(server.server.postoffice.inject, "user", "INBOX", ALTERNATIVE)
        client = connect(server, mailbox="INBOX")
        assert raw(client, b"FETCH 1 (PREVIEW)")[0] == b'* 1 FETCH (PREVIEW "plain version")'
        client.logout()
    with MailServer(db=db) as server:  # kept: LAZY has it at hand
        client = connect(server, mailbox="INBOX")
        assert raw(client, b"FETCH 1 (PREVIEW (LAZY))")[0] == (
            b'* 1 FETCH (PREVIEW "plain version")'
        )
        client.logout()
