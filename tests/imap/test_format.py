"""Response writers: strings, ENVELOPE, BODYSTRUCTURE, dates and status lines, exact bytes."""

from __future__ import annotations

import pytest

from elektromail import dates
from elektromail.imap import format as fmt
from elektromail.mime import Address, BodyPart, Envelope

# -- strings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "utf8_ok", "expected"),
    [
        pytest.param(b"abc", False, b'"abc"', id="plain"),
        pytest.param("", False, b'""', id="empty"),
        pytest.param('say "hi" \\o/', False, b'"say \\"hi\\" \\\\o/"', id="escapes"),
        pytest.param("a\tb", False, b'"a\tb"', id="tab-may-be-quoted"),
        pytest.param(b"a\r\nb", False, b"{4}\r\na\r\nb", id="crlf-literal"),
        # RFC 9051 §9: literal = ... *CHAR8, and CHAR8 excludes NUL; Dovecot sends 0x80.
        pytest.param(b"a\x00b", False, b"{3}\r\na\x80b", id="nul-literal-as-0x80"),
        pytest.param("café", False, b"{5}\r\ncaf\xc3\xa9", id="8bit-literal-without-utf8"),
        pytest.param("café", True, b'"caf\xc3\xa9"', id="8bit-quoted-with-utf8"),
        pytest.param(b"\xe9t\xe9", True, b"{3}\r\n\xe9t\xe9", id="invalid-utf8-literal"),
        pytest.param("\udce9t\udce9", False, b"{3}\r\n\xe9t\xe9", id="surrogateescape-restored"),
        pytest.param(b"x" * 1024, False, b'"' + b"x" * 1024 + b'"', id="quoted-up-to-limit"),
        pytest.param(b"x" * 1025, False, b"{1025}\r\n" + b"x" * 1025, id="long-literal"),
    ],
)
def test_string(value: str | bytes, utf8_ok: bool, expected: bytes) -> None:
    assert fmt.string(value, utf8_ok=utf8_ok) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("INBOX", b"INBOX", id="atom"),
        pytest.param("a]b", b"a]b", id="bracket-is-astring-char"),
        pytest.param("[Gmail]/Sent", b"[Gmail]/Sent", id="gmail"),
        pytest.param("NIL", b'"NIL"', id="nil-quoted"),
        pytest.param("nil", b'"nil"', id="nil-any-case-quoted"),
        pytest.param("", b'""', id="empty"),
        pytest.param("a b", b'"a b"', id="space"),
        pytest.param("a*", b'"a*"', id="wildcard"),
        pytest.param("a%", b'"a%"', id="percent"),
        pytest.param("a(", b'"a("', id="paren"),
        pytest.param("a{", b'"a{"', id="brace"),
        pytest.param("\\Seen", b'"\\\\Seen"', id="backslash"),
        pytest.param("Entwürfe", b"{9}\r\nEntw\xc3\xbcrfe", id="8bit"),
    ],
)
def test_astring(value: str, expected: bytes) -> None:
    assert fmt.astring(value) == expected


def test_nstring() -> None:
    assert fmt.nstring(None) == b"NIL"
    assert fmt.nstring("NIL") == b'"NIL"'
    assert fmt.nstring("x") == b'"x"'


def test_literal() -> None:
    assert fmt.literal(b"") == b"{0}\r\n"
    assert fmt.literal(b"ab") == b"{2}\r\nab"
    assert fmt.literal(b"\x00\x01", binary=True) == b"~{2}\r\n\x00\x01"


def test_format_flags() -> None:
    assert fmt.format_flags([]) == b"()"
    assert fmt.format_flags(["\\Seen", "$Forwarded"]) == b"(\\Seen $Forwarded)"
    # a tuple, as the store and the view hold flags, the same way, and again
    for _ in range(2):
        assert fmt.format_flags(("\\Seen", "$Forwarded")) == b"(\\Seen $Forwarded)"
        assert fmt.format_flags(("$Forwarded", "\\Seen")) == b"($Forwarded \\Seen)"
        assert fmt.format_flags(()) == b"()"


# -- ENVELOPE ------------------------------------------------------------------------------

GRAY = Address("Terry Gray", None, "gray", "cac.washington.edu")
RFC_ENVELOPE = Envelope(
    date="Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
    subject="IMAP4rev1 WG mtg summary and minutes",
    from_=(GRAY,),
    sender=(GRAY,),
    reply_to=(GRAY,),
    to=(Address(None, None, "imap", "cac.washington.edu"),),
    cc=(
        Address(None, None, "minutes", "CNRI.Reston.VA.US"),
        Address("John Klensin", None, "KLENSIN", "MIT.EDU"),
    ),
    message_id="<B27397-0100000@cac.washington.edu>",
)
RFC_ENVELOPE_BYTES = (
    b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
    b'((NIL NIL "imap" "cac.washington.edu")) '
    b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
    b'NIL NIL "<B27397-0100000@cac.washington.edu>")'
)


def test_envelope_matches_the_rfc_example() -> None:
    assert fmt.format_envelope(RFC_ENVELOPE) == RFC_ENVELOPE_BYTES


def test_envelope_sender_and_reply_to_default_to_from() -> None:
    env = Envelope(**{**_fields(RFC_ENVELOPE), "sender": None, "reply_to": ()})
    assert fmt.format_envelope(env) == RFC_ENVELOPE_BYTES


def test_empty_envelope_is_all_nil() -> None:
    assert fmt.format_envelope(Envelope()) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_envelope_group_syntax_addresses() -> None:
    env = Envelope(
        to=(
            Address(None, None, "undisclosed-recipients", None),
            Address(None, None, None, None),
        )
    )
    assert fmt.format_envelope(env) == (
        b'(NIL NIL NIL NIL NIL ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) '
        b"NIL NIL NIL NIL)"
    )


@pytest.mark.parametrize(
    ("utf8_ok", "subject"),
    [
        pytest.param(False, b"{11}\r\nGr\xc3\xbc\xc3\x9fe \xe2\x82\xac", id="literal-in-rev1"),
        pytest.param(True, b'"Gr\xc3\xbc\xc3\x9fe \xe2\x82\xac"', id="quoted-with-utf8"),
    ],
)
def test_envelope_8bit_subject(utf8_ok: bool, subject: bytes) -> None:
    env = Envelope(subject="Grüße €")
    assert fmt.format_envelope(env, utf8_ok=utf8_ok) == (
        b"(NIL " + subject + b" NIL NIL NIL NIL NIL NIL NIL NIL)"
    )


def _fields(env: Envelope) -> dict:
    return {name: getattr(env, name) for name in Envelope.__slots__}


# -- BODY / BODYSTRUCTURE ------------------------------------------------------------------

RFC_TEXT = BodyPart(
    type="TEXT", subtype="PLAIN", params=(("CHARSET", "US-ASCII"),), size=3028, lines=92
)
RFC_MIXED = BodyPart(
    type="MULTIPART",
    subtype="MIXED",
    params=(("BOUNDARY", "xyz"),),
    parts=(
        BodyPart(
            type="TEXT", subtype="PLAIN", params=(("CHARSET", "US-ASCII"),), size=1152, lines=23
        ),
        BodyPart(
            type="TEXT",
            subtype="PLAIN",
            params=(("CHARSET", "US-ASCII"), ("NAME", "cc.diff")),
            id="<960723163407.20117h@cac.washington.edu>",
            description="Compiler diff",
            encoding="base64",
            size=4554,
            lines=73,
        ),
    ),
)
RFC_MIXED_BODY = (
    b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
    b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
    b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")'
)
DOVECOT_STYLE = BodyPart(
    type="text",
    subtype="plain",
    params=(("charset", "utf-8"),),
    encoding="quoted-printable",
    size=10,
    lines=1,
    md5="Q2hlY2sgSW50ZWdyaXR5IQ==",
    disposition=("inline", ()),
    language=("en",),
    location="http://example.org/a.txt",
)
IMAGE = BodyPart(
    type="image",
    subtype="gif",
    params=(("name", "a.gif"),),
    id="<img1@example.org>",
    encoding="base64",
    size=30,
    disposition=("attachment", (("filename", "a.gif"),)),
    language=("en", "de"),
)
INNER = BodyPart(type="text", subtype="plain", size=5, lines=1)
MESSAGE = BodyPart(
    type="message",
    subtype="rfc822",
    size=100,
    lines=5,
    envelope=Envelope(subject="hi"),
    message=INNER,
)


@pytest.mark.parametrize(
    ("part", "extended", "expected"),
    [
        pytest.param(
            RFC_TEXT,
            False,
            b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)',
            id="rfc-text-body",
        ),
        pytest.param(RFC_MIXED, False, RFC_MIXED_BODY, id="rfc-multipart-body"),
        pytest.param(
            RFC_MIXED,
            True,
            b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)'
            b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
            b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 '
            b'NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)',
            id="rfc-multipart-bodystructure",
        ),
        pytest.param(
            DOVECOT_STYLE,
            True,
            b'("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 10 1 '
            b'"Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" NIL) "en" "http://example.org/a.txt")',
            id="single-part-extension-data",
        ),
        pytest.param(
            DOVECOT_STYLE,
            False,
            b'("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 10 1)',
            id="body-drops-extension-data",
        ),
        pytest.param(
            IMAGE,
            True,
            b'("image" "gif" ("name" "a.gif") "<img1@example.org>" NIL "BASE64" 30 NIL '
            b'("attachment" ("filename" "a.gif")) ("en" "de") NIL)',
            id="basic-type-has-no-lines",
        ),
        pytest.param(
            MESSAGE,
            False,
            b'("message" "rfc822" NIL NIL NIL "7BIT" 100 '
            b'(NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL) '
            b'("text" "plain" NIL NIL NIL "7BIT" 5 1) 5)',
            id="message-rfc822",
        ),
        pytest.param(
            MESSAGE,
            True,
            b'("message" "rfc822" NIL NIL NIL "7BIT" 100 '
            b'(NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL) '
            b'("text" "plain" NIL NIL NIL "7BIT" 5 1 NIL NIL NIL NIL) 5 NIL NIL NIL NIL)',
            id="message-rfc822-extended",
        ),
        pytest.param(
            BodyPart(type="multipart", subtype="mixed"),
            False,
            b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 0 0) "mixed")',
            id="multipart-without-parts-gets-an-empty-part",
        ),
        pytest.param(
            BodyPart(type="message", subtype="rfc822", size=0),
            False,
            b'("message" "rfc822" NIL NIL NIL "7BIT" 0 '
            b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
            b'("text" "plain" NIL NIL NIL "7BIT" 0 0) 0)',
            id="message-without-parsed-content",
        ),
        pytest.param(
            BodyPart(type="text", subtype="plain", encoding=""),
            False,
            b'("text" "plain" NIL NIL NIL "7BIT" 0 0)',
            id="missing-encoding-is-7bit",
        ),
    ],
)
def test_bodystructure(part: BodyPart, extended: bool, expected: bytes) -> None:
    assert fmt.format_bodystructure(part, extended) == expected


@pytest.mark.parametrize(
    ("utf8_ok", "value"),
    [
        pytest.param(False, b"{8}\r\nr\xc3\xa9sum\xc3\xa9", id="literal-in-rev1"),
        pytest.param(True, b'"r\xc3\xa9sum\xc3\xa9"', id="quoted-with-utf8"),
    ],
)
def test_bodystructure_8bit_parameter(utf8_ok: bool, value: bytes) -> None:
    part = BodyPart(type="text", subtype="plain", params=(("name", "résumé"),), size=1, lines=1)
    assert fmt.format_bodystructure(part, False, utf8_ok=utf8_ok) == (
        b'("text" "plain" ("name" ' + value + b') NIL NIL "7BIT" 1 1)'
    )


def test_very_deep_structure_is_cut_off_not_a_recursion_error() -> None:
    part = BodyPart(type="text", subtype="plain")
    for _ in range(3000):
        part = BodyPart(type="multipart", subtype="mixed", parts=(part,))
    data = fmt.format_bodystructure(part, True)
    assert data.count(b'"mixed"') == fmt.MAX_BODY_DEPTH
    assert b'("application" "octet-stream" NIL NIL NIL "7BIT" 0 NIL NIL NIL NIL)' in data


# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "offset", "expected"),
    [
        pytest.param(837596665, -420, b'"17-Jul-1996 02:44:25 -0700"', id="rfc-example"),
        pytest.param(0, 0, b'"01-Jan-1970 00:00:00 +0000"', id="epoch"),
        pytest.param(0.999, 0, b'"01-Jan-1970 00:00:00 +0000"', id="fraction-floored"),
        pytest.param(0, 330, b'"01-Jan-1970 05:30:00 +0530"', id="half-hour-east"),
        pytest.param(0, -90, b'"31-Dec-1969 22:30:00 -0130"', id="half-hour-west"),
        pytest.param(1709251199, 0, b'"29-Feb-2024 23:59:59 +0000"', id="leap-day"),
    ],
)
def test_format_internaldate(epoch: float, offset: int, expected: bytes) -> None:
    assert fmt.format_internaldate(epoch, offset) == expected


def test_internaldate_round_trip() -> None:
    for epoch, offset in [(837596665, -420), (0, 330), (1709251199, 0), (-86400, -720)]:
        text = fmt.format_internaldate(epoch, offset)
        assert dates.parse_date_time(text[1:-1]) == (epoch, offset)


# -- response lines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(fmt.tagged("a1", fmt.OK, "done"), b"a1 OK done\r\n", id="tagged"),
        pytest.param(
            fmt.tagged("a1", fmt.OK, "SELECT completed", fmt.READ_WRITE),
            b"a1 OK [READ-WRITE] SELECT completed\r\n",
            id="tagged-with-code-name",
        ),
        pytest.param(
            fmt.tagged(
                "a1",
                fmt.OK,
                "APPEND completed",
                fmt.format_response_code(fmt.APPENDUID, "38505 3955"),
            ),
            b"a1 OK [APPENDUID 38505 3955] APPEND completed\r\n",
            id="tagged-with-formatted-code",
        ),
        pytest.param(
            fmt.tagged("a1", fmt.BAD, "bad\r\ninjected\x00"),
            b"a1 BAD bad  injected \r\n",
            id="text-cannot-break-the-line",
        ),
        pytest.param(fmt.tagged("a1", fmt.NO, "caf\u00e9"), b"a1 NO caf?\r\n", id="text-7bit"),
        pytest.param(fmt.tagged("a1", fmt.OK, ""), b"a1 OK Completed\r\n", id="empty-text"),
        pytest.param(
            fmt.tagged(None, fmt.BAD, "invalid tag"), b"* BAD invalid tag\r\n", id="no-tag"
        ),
        pytest.param(
            fmt.untagged_status(
                fmt.OK, "UIDs valid", fmt.format_response_code(fmt.UIDVALIDITY, "3857529045")
            ),
            b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
            id="untagged-status",
        ),
        pytest.param(fmt.untagged_status(fmt.BYE, "Autologout"), b"* BYE Autologout\r\n", id="bye"),
        pytest.param(fmt.untagged(b"3 EXISTS"), b"* 3 EXISTS\r\n", id="untagged-data"),
        pytest.param(fmt.continuation(), b"+ Ready\r\n", id="continuation"),
        pytest.param(fmt.continuation(b""), b"+ \r\n", id="empty-sasl-challenge"),
        pytest.param(
            fmt.format_fetch(12, [(b"FLAGS", b"(\\Seen)"), (b"UID", b"4")]),
            b"* 12 FETCH (FLAGS (\\Seen) UID 4)\r\n",
            id="fetch",
        ),
        pytest.param(
            fmt.format_response_code(fmt.PERMANENTFLAGS, b"(\\Seen \\*)"),
            b"[PERMANENTFLAGS (\\Seen \\*)]",
            id="code-with-bytes-data",
        ),
    ],
)
def test_response_lines(line: bytes, expected: bytes) -> None:
    assert line == expected


def test_response_codes_cover_rfc9051_and_rfc5530() -> None:
    expected = {
        "ALERT", "ALREADYEXISTS", "APPENDUID", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED",
        "BADCHARSET", "CANNOT", "CAPABILITY", "CLIENTBUG", "CLOSED", "CONTACTADMIN", "COPYUID",
        "CORRUPTION", "EXPIRED", "EXPUNGEISSUED", "HASCHILDREN", "INUSE", "LIMIT",
        "NONEXISTENT", "NOPERM", "NOTSAVED", "OVERQUOTA", "PARSE", "PERMANENTFLAGS",
        "PRIVACYREQUIRED", "READ-ONLY", "READ-WRITE", "SERVERBUG", "TRYCREATE", "UIDNEXT",
        "UIDNOTSTICKY", "UIDVALIDITY", "UNAVAILABLE", "UNKNOWN-CTE",
    }  # fmt: skip
    assert expected <= fmt.RESPONSE_CODES
