"""FETCH of mail with binary content, over loopback sockets, in exact bytes: no NUL in a plain
literal, BINARY[...] of every kind of section, sections a message does not have, one item that
cannot be answered among several, and APPEND of a literal8 (RFC 3516). Where the RFCs leave a
choice the answers are Dovecot 2.3's, checked against the reference Dovecot."""

from __future__ import annotations

import itertools
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from elektromail.testing import MailServer
from tests.imap.wire import ImapWire
from tests.mime.test_binary import APPEND_BINARY, BINARY_BODY, ENCODED, ENCODED_BINARY, HEADER

# NUL at the very first and last octet of the message, of the header and of the body.
NUL_MAIL = (
    b"\x00X-First: a\r\nSubject: n\x00ul\r\nX-H: v\x00\r\n\r\n\x00start\r\nmid\x00dle\r\nend\x00"
)
NUL_HEADER_END = NUL_MAIL.index(b"\r\n\r\n") + 4
# imaptest's fetch-binary-mime message: nothing is encoded, so BINARY[...] is the bytes.
MIME = (
    b"From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="foo\r\n bar"\r\n\r\nRoot MIME prologue\r\n\r\n'
    b"--foo bar\r\nContent-Type: text/x-myown; charset=us-ascii\r\n\r\nhello\r\n\r\n"
    b"--foo bar\r\nContent-Type: message/rfc822\r\n\r\n"
    b"From: sub@domain.org\r\nDate: Sun, 12 Aug 2012 12:34:56 +0300\r\nSubject: submsg\r\n"
    b'Content-Type: multipart/alternative; boundary="sub1"\r\n\r\nSub MIME prologue\r\n'
    b"--sub1\r\nContent-Type: text/html\r\n\r\n<p>Hello world</p>\r\n\r\n"
    b"--sub1\r\nContent-Type: text/plain\r\n\r\nHello another world\r\n\r\n"
    b"--sub1--\r\nSub MIME epilogue\r\n\r\n--foo bar--\r\nRoot MIME epilogue\r\n"
)
MIME_PART2 = MIME[MIME.index(b"From: sub@") : MIME.index(b"\r\n--foo bar--")]
UNKNOWN = (
    b"From: a@b\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n"
    b"--xx\r\nContent-Type: text/plain\r\n\r\nplain part\r\n"
    b"--xx\r\nContent-Type: application/x\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 f\r\nend\r\n--xx--\r\n"
)
OK = b"f OK FETCH completed\r\n"
UNKNOWN_CTE = b"f NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding\r\n"
_names = (f"box{n}" for n in itertools.count())


def lit(data: bytes) -> bytes:
    return b"{%d}\r\n%s" % (len(data), data)


def lit8(data: bytes) -> bytes:
    return b"~{%d}\r\n%s" % (len(data), data)


def shown(data: bytes) -> bytes:
    """What a plain literal may carry of `data`: each NUL as 0x80, as Dovecot sends it."""
    return data.replace(b"\x00", b"\x80")


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer(users="user:pass", http_port=0) as server:
        yield server


@pytest.fixture
def box(mail):
    """box(*messages, rev2=False): a new mailbox holding `messages` (stored as /inject stores
    them), selected on a new logged-in connection."""
    opened: list[ImapWire] = []

    def make(*messages: bytes, rev2: bool = False) -> ImapWire:
        name = next(_names)
        wire = ImapWire(mail.imap_port)
        opened.append(wire)
        wire.login()
        created = wire.command(b"c CREATE " + name.encode())
        # RFC 8474 §4.1: the tagged OK of a CREATE carries the new mailbox's MAILBOXID
        assert re.fullmatch(rb"c OK \[MAILBOXID \(F[0-9a-f]{24}\)\] CREATE completed\r\n", created)
        for raw in messages:
            mail.inject("user", raw, mailbox=name)
        if rev2:
            wire.command(b"e ENABLE IMAP4rev2")
        wire.command(b"s SELECT " + name.encode())
        wire.mailbox = name
        return wire

    yield make
    for wire in opened:
        wire.close()


def stored_raw(mail: MailServer, mailbox: str) -> list[bytes]:
    return [message["raw"] for message in mail.messages("user", mailbox)]


# --- no NUL in a plain literal -------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "label", "data"),
    [
        (b"BODY.PEEK[]", b"BODY[]", NUL_MAIL),
        (b"BODY.PEEK[HEADER]", b"BODY[HEADER]", NUL_MAIL[:NUL_HEADER_END]),
        (b"BODY.PEEK[TEXT]", b"BODY[TEXT]", NUL_MAIL[NUL_HEADER_END:]),
        (b"BODY.PEEK[1]", b"BODY[1]", NUL_MAIL[NUL_HEADER_END:]),
        (b"BODY.PEEK[1.MIME]", b"BODY[1.MIME]", NUL_MAIL[:NUL_HEADER_END]),
        (b"BODY.PEEK[HEADER.FIELDS (X-H)]", b"BODY[HEADER.FIELDS (X-H)]", b"X-H: v\x00\r\n\r\n"),
        (b"RFC822.HEADER", b"RFC822.HEADER", NUL_MAIL[:NUL_HEADER_END]),
    ],
    ids=["whole", "header", "text", "part-1", "mime", "header-fields", "rfc822-header"],
)
def test_nul_goes_out_as_0x80_in_a_plain_literal(box, item, label, data):
    """RFC 3501 §4.3 / RFC 9051 §4.3: a literal is CHAR8 (%x01-ff), and §4.3.1: "unencoded
    binary strings are not permitted, unless returned in a <literal8> in response to a
    BINARY.PEEK[...] or BINARY[...] FETCH data item." Dovecot sends each NUL as 0x80."""
    wire = box(NUL_MAIL)
    response = wire.command(b"f FETCH 1 (" + item + b")")
    assert response == b"* 1 FETCH (%s %s)\r\n" % (label, lit(shown(data))) + OK


def test_rfc822_and_rfc822_text_replace_nul_too(box):
    wire = box(NUL_MAIL)
    body = NUL_MAIL[NUL_HEADER_END:]
    response = wire.command(b"f FETCH 1 (RFC822.TEXT RFC822 FLAGS)")
    # the box's session selected it first: its messages are \Recent there (RFC 3501 §2.3.2)
    expected = b"* 1 FETCH (RFC822.TEXT %s RFC822 %s FLAGS (\\Seen \\Recent))\r\n" % (
        lit(shown(body)),
        lit(shown(NUL_MAIL)),
    )
    assert response == expected + OK


@pytest.mark.parametrize(
    ("offset", "count"),
    [(0, 1), (0, 2), (1, 5), (len(NUL_MAIL) - 1, 1), (len(NUL_MAIL) - 3, 10), (60, 3), (0, 999)],
)
def test_partial_windows_across_nuls_keep_their_octets(box, offset, count):
    """RFC 9051 §6.4.5: a partial fetch returns "the octets starting at <offset> ... up to
    <count> octets": with one 0x80 for one NUL, offsets and sizes are those of the stored
    message."""
    wire = box(NUL_MAIL)
    response = wire.command(b"f FETCH 1 (BODY.PEEK[]<%d.%d> RFC822.SIZE)" % (offset, count))
    window = shown(NUL_MAIL)[offset : offset + count]
    expected = b"* 1 FETCH (BODY[]<%d> %s RFC822.SIZE %d)\r\n" % (
        offset,
        lit(window),
        len(NUL_MAIL),
    )
    assert response == expected + OK


def test_bodystructure_sizes_count_the_stored_octets(box):
    wire = box(NUL_MAIL)
    response = wire.command(b"f FETCH 1 (BODYSTRUCTURE)")
    body = NUL_MAIL[NUL_HEADER_END:]
    assert b'"7BIT" %d 3 NIL NIL NIL NIL)' % len(body) in response, response


def test_binary_and_the_api_give_the_stored_nuls(mail, box):
    """The stored bytes are sacred: BINARY[] (a literal8, RFC 3516 §4.3) and the HTTP API send
    them as stored."""
    wire = box(NUL_MAIL)
    response = wire.command(b"f FETCH 1 (BINARY.PEEK[] BINARY.SIZE[] BINARY.PEEK[1]<0.1>)")
    expected = b"* 1 FETCH (BINARY[] %s BINARY.SIZE[] %d BINARY[1]<0> %s)\r\n" % (
        lit8(NUL_MAIL),
        len(NUL_MAIL),
        lit8(b"\x00"),
    )
    assert response == expected + OK
    assert stored_raw(mail, wire.mailbox) == [NUL_MAIL]
    url = f"{mail.http_url}/messages/1/raw?user=user&mailbox={wire.mailbox}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == NUL_MAIL


def test_mail_with_nul_from_smtp_and_inject_reads_the_same():
    """Both ways in accept NUL; neither lets one out in a plain literal."""
    with MailServer(users="user:pass", http_port=0) as mail:
        mail.call(mail.server.postoffice.deliver, ["user@x"], NUL_MAIL)
        request = urllib.request.Request(
            f"{mail.http_url}/inject",
            json.dumps({"user": "user", "raw": NUL_MAIL.decode("latin-1")}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 201
        raws = stored_raw(mail, "INBOX")
        assert raws[0] == NUL_MAIL and b"\x00" in raws[1]
        with ImapWire(mail.imap_port) as wire:
            wire.login()
            wire.command(b"s SELECT INBOX")
            response = wire.command(b"f FETCH 1:2 (BODY.PEEK[])")
        assert (
            response
            == (
                b"* 1 FETCH (BODY[] %s)\r\n* 2 FETCH (BODY[] %s)\r\n"
                % (lit(shown(raws[0])), lit(shown(raws[1])))
            )
            + OK
        )


# --- APPEND of a literal8 -------------------------------------------------------------------


def append(wire: ImapWire, *args: bytes) -> bytes:
    """`a APPEND <args joined by spaces>`: the tagged response (literals as LITERAL+ `{n+}`)."""
    line = b" ".join([b"a APPEND", *args]).replace(b"}\r\n", b"+}\r\n")
    return wire.command(line).split(b"\r\n")[-2] + b"\r\n"


def test_literal8_append_stores_binary_parts_as_base64(mail, box):
    """RFC 3516 §4.4: "The server MAY modify the CTE of the appended data, however any such
    transformation MUST NOT result in a loss of data." As Dovecot (imaptest append-binary):
    BODY[1] is base64 text, BINARY[1] the octets sent."""
    wire = box()
    answer = append(wire, wire.mailbox.encode(), lit8(APPEND_BINARY))
    assert answer.startswith(b"a OK [APPENDUID "), answer
    converted = HEADER + b"Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg=="
    assert stored_raw(mail, wire.mailbox) == [converted]
    response = wire.command(b"f FETCH 1 (BODY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1])")
    expected = b"* 1 FETCH (BODY[1] %s BINARY.SIZE[1] 7 BINARY[1] %s)\r\n" % (
        lit(b"AC3kCg0KCg=="),
        lit8(BINARY_BODY),
    )
    assert response == expected + OK


def test_plain_literal_append_is_stored_as_sent(mail, box):
    """A plain literal may not carry NUL (RFC 3501 §4.3), but clients send it; Dovecot keeps
    such a message as it is, and so do we: the FETCH side hides the NULs."""
    wire = box()
    assert append(wire, wire.mailbox.encode(), lit(APPEND_BINARY)).startswith(b"a OK")
    assert stored_raw(mail, wire.mailbox) == [APPEND_BINARY]
    response = wire.command(b"f FETCH 1 (BODY.PEEK[1])")
    assert response == b"* 1 FETCH (BODY[1] %s)\r\n" % lit(shown(BINARY_BODY)) + OK


def test_utf8_append_literal8_is_converted_too(mail, box):
    """RFC 6855 §4's `UTF8 (literal8)` is a literal8 like RFC 3516's."""
    wire = box()
    wire.command(b"e ENABLE UTF8=ACCEPT")
    answer = append(wire, wire.mailbox.encode(), b"UTF8 (" + lit8(APPEND_BINARY) + b")")
    assert answer.startswith(b"a OK"), answer
    assert b"\x00" not in stored_raw(mail, wire.mailbox)[0]


@pytest.mark.parametrize(
    "args",
    [
        (lit8(b"INBOX"), lit(APPEND_BINARY)),
        (b"INBOX", b"(" + lit8(b"\\Seen") + b")", lit(APPEND_BINARY)),
    ],
    ids=["mailbox", "flag"],
)
def test_literal8_only_for_the_message(mail, box, args):
    """RFC 3516 §7: append =/ "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal8:
    the other arguments keep their syntax, which has no literal8 (Dovecot: "literal8 not
    allowed here")."""
    wire = box()
    answer = append(wire, *args)
    assert answer.startswith(b"a BAD "), answer
    assert stored_raw(mail, "INBOX") == []
    assert wire.command(b"z NOOP") == b"z OK NOOP completed\r\n"


def test_a_literal8_where_the_date_time_goes_is_a_message_of_a_multiappend(mail, box):
    """RFC 3502 §6.3.11 with RFC 9051 §9 (append-data = literal / literal8 / ...): what follows
    the optional date-time is a message, so a literal8 there is the first of two messages,
    not a date."""
    wire = box()
    date = b'"01-Jan-2020 00:00:00 +0000"'
    answer = append(wire, b"INBOX", lit8(date), lit(APPEND_BINARY))
    assert answer.startswith(b"a OK [APPENDUID "), answer
    assert stored_raw(mail, "INBOX")[0] == date


# --- BINARY of multiparts and messages (RFC 3516 in rev1; RFC 9051 in rev2) -----------------


def test_binary_of_a_multipart_and_a_message_part_in_rev1(box):
    """RFC 3516 §4.2: "BINARY<section-binary>[<partial>] Requests that the specified section be
    transmitted after performing CTE-related decoding." It has no rule against multiparts, and
    their encoding can only be 7bit, 8bit or binary (RFC 2045 §6.4): imaptest
    fetch-binary-mime."""
    wire = box(MIME)
    response = wire.command(
        b"f FETCH 1 (BINARY.PEEK[] BINARY.SIZE[] BINARY.PEEK[2] BINARY.SIZE[2])"
    )
    expected = b"* 1 FETCH (BINARY[] %s BINARY.SIZE[] 602 BINARY[2] %s BINARY.SIZE[2] 298)\r\n" % (
        lit(MIME),
        lit(MIME_PART2),
    )
    assert len(MIME) == 602 and len(MIME_PART2) == 298
    assert response == expected + OK


def test_binary_of_a_multipart_decodes_the_parts_inside(box):
    """As Dovecot: each base64 or quoted-printable part is decoded and says
    "Content-Transfer-Encoding: binary"; BINARY.SIZE matches (RFC 3516 §4.3: "The value
    returned MUST match the size of the <nstring> or <literal8> that will be returned by the
    corresponding FETCH BINARY request")."""
    wire = box(ENCODED)
    response = wire.command(b"f FETCH 1 (BINARY.SIZE[] BINARY.PEEK[]<200.100> BINARY.PEEK[]<0.50>)")
    window = ENCODED_BINARY[200:300]
    assert b"\x00" in window and b"\x00" not in ENCODED_BINARY[:50]
    expected = (
        b"* 1 FETCH (BINARY.SIZE[] %d BINARY[]<200> %s BINARY[]<0> %s)\r\n"
        % (
            len(ENCODED_BINARY),
            lit8(window),  # RFC 9051 §7.5.2: a literal8 where there is NUL, else a string
            lit(ENCODED_BINARY[:50]),
        )
    )
    assert response == expected + OK


@pytest.mark.parametrize("section", [b"", b"2"])
def test_rev2_refuses_binary_of_a_non_leaf_part(box, section):
    """RFC 9051 §6.4.5: "Note that this data item can only be requested for leaf body parts:
    those that have media types other than multipart/*, message/rfc822, or message/global." """
    wire = box(MIME, rev2=True)
    response = wire.command(b"f FETCH 1 (UID BINARY.PEEK[%s])" % section)
    assert (
        response == b"* 1 FETCH (UID 1)\r\nf NO BINARY takes only leaf body parts in IMAP4rev2\r\n"
    )


def test_rev2_answers_binary_of_leaves_and_of_a_single_part_message(mail, box):
    wire = box(MIME, APPEND_BINARY, rev2=True)
    response = wire.command(b"f FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[2.2])")
    assert (
        response
        == b"* 1 FETCH (BINARY[1] %s BINARY[2.2] %s)\r\n"
        % (
            lit(b"hello\r\n"),
            lit(b"Hello another world\r\n"),
        )
        + OK
    )
    response = wire.command(b"f FETCH 2 (BINARY.SIZE[] RFC822.SIZE)")
    size = len(stored_raw(mail, wire.mailbox)[1])
    assert response == b"* 2 FETCH (BINARY.SIZE[] %d RFC822.SIZE %d)\r\n" % (size, size) + OK


# --- sections a message does not have (Dovecot: the empty string) ---------------------------


@pytest.mark.parametrize(
    ("item", "label"),
    [
        (b"BODY.PEEK[3]", b"BODY[3]"),
        (b"BODY.PEEK[2.5]", b"BODY[2.5]"),
        (b"BODY.PEEK[1.1]", b"BODY[1.1]"),  # Dovecot: part 1 again (a leaf's own part 1)
        (b"BODY.PEEK[1.HEADER]", b"BODY[1.HEADER]"),
        (b"BODY.PEEK[1.TEXT]", b"BODY[1.TEXT]"),
        (b"BODY.PEEK[3.MIME]", b"BODY[3.MIME]"),
        (b"BODY.PEEK[3.HEADER.FIELDS (FROM)]", b"BODY[3.HEADER.FIELDS (FROM)]"),
        (b"BODY.PEEK[3]<0.10>", b"BODY[3]<0>"),
        (b"BODY.PEEK[1]<100.5>", b"BODY[1]<100>"),
        (b"BODY.PEEK[4294967295]", b"BODY[4294967295]"),
        (b"BINARY.PEEK[9]", b"BINARY[9]"),
        (b"BINARY.PEEK[9]<0.5>", b"BINARY[9]<0>"),
        (b"BINARY.PEEK[4294967295.1]", b"BINARY[4294967295.1]"),
    ],
)
def test_a_missing_section_is_the_empty_string(box, item, label):
    """RFC 9051 §6.4.5 does not say what a section the message lacks holds; Dovecot answers
    the empty string, and so do we (we answered NIL before)."""
    wire = box(MIME)
    assert wire.command(b"f FETCH 1 (" + item + b")") == b"* 1 FETCH (%s {0}\r\n)\r\n" % label + OK


def test_binary_size_of_a_missing_part_is_zero(box):
    wire = box(MIME)
    response = wire.command(b"f FETCH 1 (BINARY.SIZE[9] BINARY.SIZE[1.2])")
    assert response == b"* 1 FETCH (BINARY.SIZE[9] 0 BINARY.SIZE[1.2] 0)\r\n" + OK


def test_a_part_number_past_32_bits_is_bad(box):
    """RFC 9051 §9: section-part = nz-number *("." nz-number), nz-number a "Non-zero unsigned
    32-bit integer"; Dovecot wraps it round and answers part 1."""
    wire = box(MIME)
    response = wire.command(b"f FETCH 1 (BODY.PEEK[4294967296])")
    assert response.startswith(b"f BAD "), response


# --- an item that cannot be answered among several ----------------------------------------


def test_unknown_cte_keeps_the_items_before_it_and_ends_the_fetch(box):
    """RFC 3516 §4.3: "If the server does not know how to decode the section's CTE, it MUST fail
    the request and issue a "NO" response that contains the "UNKNOWN-CTE" extended response
    code." As Dovecot: what was answered goes out, the FETCH stops there, then NO."""
    wire = box(UNKNOWN)
    response = wire.command(b"f FETCH 1 (UID BINARY.PEEK[1] BINARY.PEEK[2] BODY.PEEK[1])")
    assert response == b"* 1 FETCH (UID 1 BINARY[1] %s)\r\n" % lit(b"plain part") + UNKNOWN_CTE
    response = wire.command(b"f FETCH 1 (BINARY.SIZE[2])")
    assert response == b"* 1 FETCH (UID 1)\r\n" + UNKNOWN_CTE  # never an empty FETCH ()
    assert wire.command(b"z NOOP") == b"z OK NOOP completed\r\n"


def test_earlier_messages_are_answered_and_later_ones_not(box):
    wire = box(MIME, UNKNOWN, MIME)
    response = wire.command(b"f FETCH 1:3 (UID BINARY.PEEK[2])")
    assert response == (
        b"* 1 FETCH (UID 1 BINARY[2] %s)\r\n* 2 FETCH (UID 2)\r\n" % lit(MIME_PART2) + UNKNOWN_CTE
    )
    response = wire.command(b"f FETCH 1:3 (BINARY.SIZE[1])")  # part 1 of each is fine
    assert response == (
        b"* 1 FETCH (BINARY.SIZE[1] 7)\r\n* 2 FETCH (BINARY.SIZE[1] 10)\r\n"
        b"* 3 FETCH (BINARY.SIZE[1] 7)\r\n" + OK
    )


def test_seen_is_set_only_where_something_that_sets_it_was_answered(box):
    """RFC 9051 §6.4.5: BODY[...] and BINARY[...] set \\Seen; a message whose FETCH stopped
    before any such item, and messages never reached, keep their flags."""
    wire = box(MIME, UNKNOWN, UNKNOWN, MIME)
    response = wire.command(b"f FETCH 1:2 (BODY[1] BINARY[2])")
    assert response == (
        b"* 1 FETCH (BODY[1] %s BINARY[2] %s FLAGS (\\Seen \\Recent))\r\n"
        % (lit(b"hello\r\n"), lit(MIME_PART2))
        + b"* 2 FETCH (BODY[1] %s FLAGS (\\Seen \\Recent))\r\n" % lit(b"plain part")
        + UNKNOWN_CTE
    )
    response = wire.command(b"f FETCH 3:4 (BINARY[2] BODY[1])")
    assert response == b"* 3 FETCH (UID 3)\r\n" + UNKNOWN_CTE
    assert wire.command(b"f FETCH 1:4 (FLAGS)") == (
        b"* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n* 2 FETCH (FLAGS (\\Seen \\Recent))\r\n"
        b"* 3 FETCH (FLAGS (\\Recent))\r\n* 4 FETCH (FLAGS (\\Recent))\r\n" + OK
    )
