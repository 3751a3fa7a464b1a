"""RFC 9051 §6.4.5 FETCH and the FETCH response (§7.5.2): static and dynamic data items,
ENVELOPE, BODY and BODYSTRUCTURE, body sections and partial fetches, BINARY (RFC 3516 for
IMAP4rev1 servers advertising BINARY), macros, the IMAP4rev1-only RFC822 items (RFC 3501
§6.4.5), \\Seen, and message sets."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_not_ok,
    assert_ok,
    assert_still_usable,
    fetch_one,
    fetched,
    message_flags,
    require,
)
from tests.rfc9051.fixtures import (
    DETAILED,
    DRAFT_WITHOUT_HEADERS,
    EIGHT_BIT,
    GROUPS,
    HEADER_ONLY,
    LEGACY_NAME,
    NESTED,
    NESTED_PART1_DECODED,
    NESTED_PART3_DECODED,
    NUL_OCTETS,
    NUL_OCTETS_BODY,
    PLAIN,
    UNENCODED,
    UNKNOWN_CTE,
    Stored,
    message,
)
from tests.rfc9051.response import fetch_items, plain

PLAIN_HEADER, PLAIN_TEXT = PLAIN.split(b"\r\n\r\n", 1)
PLAIN_HEADER += b"\r\n\r\n"


def body_of(raw: bytes, after: bytes, boundary: bytes) -> bytes:
    """The body of the MIME part whose header contains `after`: from the blank line after it
    up to the CRLF that starts the next `--boundary` (that CRLF belongs to the delimiter,
    RFC 2046 §5.1.1)."""
    start = raw.index(b"\r\n\r\n", raw.index(after)) + 4
    return raw[start : raw.index(b"\r\n--" + boundary, start)]


def header_of(raw: bytes, after: bytes) -> bytes:
    """The MIME header block (with its blank line) that contains `after`."""
    start = raw.rindex(b"\r\n", 0, raw.index(after)) + 2
    return raw[start : raw.index(b"\r\n\r\n", start) + 4]


NESTED_QP = body_of(NESTED, b"quoted-printable", b"b1")
NESTED_RFC822 = body_of(NESTED, b"Content-Description: the original", b"b1")
NESTED_INNER_PLAIN = body_of(NESTED, b"Content-Type: text/plain; charset=us-ascii", b"b2")
NESTED_INNER_HTML = body_of(NESTED, b"Content-Type: text/html", b"b2")
NESTED_PNG = body_of(NESTED, b"Content-Id: <dot@example.org>", b"b1")
INNER_HEADER, INNER_TEXT = NESTED_RFC822.split(b"\r\n\r\n", 1)
INNER_HEADER += b"\r\n\r\n"


class Lines:
    """The text-line count of `body`: its CRLFs, and maybe one more when the last line has no
    CRLF of its own (the CRLF before a boundary belongs to the delimiter; servers differ on
    whether that last line counts, RFC 9051 §7.5.2 does not say)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def allowed(self) -> set[int]:
        count = self.body.count(b"\r\n")
        return {count, count + 1} if self.body and not self.body.endswith(b"\r\n") else {count}

    def __eq__(self, other) -> bool:
        return other in self.allowed()

    def __repr__(self) -> str:
        return f"Lines({sorted(self.allowed())})"


def mime(value):
    """A BODY/BODYSTRUCTURE value with the case-insensitive MIME tokens (type, subtype,
    encoding, parameter and disposition names, charset values) lower-cased."""
    value = plain(value)
    if not isinstance(value, list):
        return value
    if value and isinstance(value[0], list):  # multipart: parts, subtype, extension data
        count = 0
        while count < len(value) and isinstance(value[count], list):
            count += 1
        parts = [mime(v) for v in value[:count]]
        rest = value[count:]
        rest[0] = rest[0].lower()
        if len(rest) > 1:
            rest[1] = params(rest[1])
        if len(rest) > 2:
            rest[2] = disposition(rest[2])
        return [*parts, *rest]
    out = list(value)
    out[0], out[1] = out[0].lower(), out[1].lower()
    out[2] = params(out[2])
    out[5] = out[5].lower() if isinstance(out[5], str) else out[5]
    if out[0] == "message" and out[1] == "rfc822":
        out[8] = mime(out[8])
        extension = 10
    elif out[0] == "text":
        extension = 8
    else:
        extension = 7
    if len(out) > extension + 1:
        out[extension + 1] = disposition(out[extension + 1])
    return out


def params(value):
    if not isinstance(value, list):
        return value
    out = []
    for name, val in zip(value[::2], value[1::2], strict=True):
        out += [name.lower(), val.lower() if name.lower() == "charset" else val]
    return out


def disposition(value):
    if not isinstance(value, list):
        return value
    return [value[0].lower(), params(value[1])]


def prefix_matches(actual: list, basic: list, extension: list) -> bool:
    """`actual` is `basic` followed by a prefix of `extension` (RFC 9051 §7.5.2: "Extension
    data, if present, MUST be in the defined order.")."""
    if actual[: len(basic)] != basic:
        return False
    rest = actual[len(basic) :]
    return len(rest) <= len(extension) and rest == extension[: len(rest)]


def envelope(date, subject, from_, sender, reply_to, to, cc, bcc, in_reply_to, message_id):
    return [date, subject, from_, sender, reply_to, to, cc, bcc, in_reply_to, message_id]


INNER_ENVELOPE = envelope(
    "Thu, 10 Feb 1994 07:00:00 +0000",
    "original note",
    [["Grace", None, "grace", "example.com"]],
    [["Grace", None, "grace", "example.com"]],
    [["Grace", None, "grace", "example.com"]],
    [["Carol", None, "carol", "example.org"]],
    None,
    None,
    None,
    "<inner-1@example.com>",
)


def nested_parts():
    """NESTED's BODYSTRUCTURE as (basic fields, extension data) per body part."""
    inner_plain = ["text", "plain", ["charset", "us-ascii"], None, None, "7bit"]
    inner_plain += [len(NESTED_INNER_PLAIN), Lines(NESTED_INNER_PLAIN)]
    inner_html = ["text", "html", ["charset", "us-ascii"], None, None, "7bit"]
    inner_html += [len(NESTED_INNER_HTML), Lines(NESTED_INNER_HTML)]
    part1 = ["text", "plain", ["charset", "utf-8"], None, None, "quoted-printable"]
    part1 += [len(NESTED_QP), Lines(NESTED_QP)]
    part3 = ["image", "png", ["name", "dot.png"], "<dot@example.org>", None, "base64"]
    part3 += [len(NESTED_PNG)]
    return inner_plain, inner_html, part1, part3


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def binary_session(connect, target):
    """A session that may FETCH BINARY: IMAP4rev2 (RFC 9051 folds in "the FETCH side of the
    BINARY extension"), else IMAP4rev1 with the BINARY capability (RFC 3516)."""
    if "IMAP4REV2" in target.capabilities:
        client = connect(login=True)
        if "IMAP4REV1" in target.capabilities:
            assert_ok(client.command("ENABLE", "IMAP4rev2"))
        client.dialect = "rev2"
        return client
    require(target.capabilities, "BINARY")
    client = connect(login=True)
    client.dialect = "rev1"
    return client


# --- simple data items -------------------------------------------------------------------------


def test_fetch_flags_returns_the_message_flags(session, mailbox):
    """RFC 9051 §6.4.5: "FLAGS The flags that are set for this message." """
    mailbox(session, Stored(PLAIN, flags="\\Flagged \\Answered $Work"), PLAIN)
    assert message_flags(fetch_one(session, "1", "(FLAGS)")) == {"\\flagged", "\\answered", "$work"}
    assert message_flags(fetch_one(session, "2", "FLAGS")) == set()


def test_fetch_uid_returns_the_unique_identifier(session, mailbox):
    """RFC 9051 §6.4.5: "UID The unique identifier for the message."; RFC 9051 §2.3.1.1:
    "Unique identifiers are assigned in a strictly ascending fashion in the mailbox"."""
    box = mailbox(session, PLAIN, PLAIN, PLAIN)
    result = session.command("FETCH", "1:3", "(UID)")
    assert_ok(result)
    uids = [int(items["UID"]) for _, items in sorted(fetched(result).items())]
    assert uids == box.uids and uids == sorted(set(uids))


def test_fetch_internaldate_is_the_appended_date(session, mailbox):
    """RFC 9051 §6.4.5: "INTERNALDATE The internal date of the message."; RFC 9051 §6.3.12: "If
    a date-time is specified, the internal date SHOULD be set in the resulting message";
    date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE."""
    mailbox(session, Stored(PLAIN, date="07-Feb-1994 21:52:25 -0800"))
    value = str(fetch_one(session, "1", "(INTERNALDATE)")["INTERNALDATE"])
    assert re.fullmatch(r"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", value), value
    when = datetime.strptime(value.strip(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.strptime("07-Feb-1994 21:52:25 -0800", "%d-%b-%Y %H:%M:%S %z")


def test_fetch_rfc822_size_is_the_size_in_octets(session, mailbox):
    """RFC 9051 §6.4.5: "RFC822.SIZE The size of the message, as defined in Section 2.3.4.";
    RFC 9051 §2.3.4: "This is the number of octets in the message"."""
    mailbox(session, PLAIN, NESTED)
    result = session.command("FETCH", "1:2", "(RFC822.SIZE)")
    assert_ok(result)
    sizes = {n: int(items["RFC822.SIZE"]) for n, items in fetched(result).items()}
    assert sizes == {1: len(PLAIN), 2: len(NESTED)}


# --- ENVELOPE ----------------------------------------------------------------------------------


def test_fetch_envelope_has_the_exact_structure(session, mailbox):
    """RFC 9051 §7.5.2 ENVELOPE: "The fields of the envelope structure are in the following
    order: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, and message-id.";
    "The fields of an address structure are in the following order: display name, [SMTP]
    at-domain-list (source route and obs-route ABNF production from [RFC5322]), mailbox name
    (local-part ABNF production from [RFC5322]), and hostname." """
    mailbox(session, NESTED)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    assert value == envelope(
        "Fri, 11 Feb 1994 08:00:00 +0000",
        "forwarded note",
        [["Carol", None, "carol", "example.org"]],
        [["Secretary", None, "secretary", "example.org"]],
        [["Replies", None, "replies", "example.org"]],
        [["Dave", None, "dave", "example.net"], [None, None, "erin", "example.net"]],
        [["Frank", None, "frank", "example.com"]],
        [["Heidi", None, "heidi", "example.com"]],
        "<earlier@example.org>",
        "<nested-1@example.org>",
    )


def test_fetch_envelope_defaults_sender_and_reply_to_to_from(session, mailbox):
    """RFC 9051 §7.5.2: "If the Sender or Reply-To header fields are absent in the [RFC5322]
    header, or are present but empty, the server sets the corresponding member of the envelope
    to be the same value as the from member"; "If the Date, Subject, In-Reply-To, and
    Message-ID header fields are absent [...], the corresponding member of the envelope is
    NIL"; "If the From, To, Cc, and Bcc header fields are absent [...] the corresponding member
    of the envelope is NIL." """
    mailbox(session, PLAIN)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    fred = [["Fred Foobar", None, "foobar", "example.com"]]
    assert value == envelope(
        "Mon, 7 Feb 1994 21:52:25 -0800",
        "afternoon meeting",
        fred,
        fred,
        fred,
        [[None, None, "mooch", "example.com"]],
        None,
        None,
        None,
        "<B27397-0100000@example.com>",
    )


def test_fetch_envelope_of_groups_and_empty_subject(session, mailbox):
    """RFC 9051 §7.5.2: "[RFC5322] group syntax is indicated by a special form of address
    structure in which the hostname field is NIL.  If the mailbox name field is also NIL, this
    is an end-of-group marker (semicolon in RFC 822 syntax).  If the mailbox name field is
    non-NIL, this is the start of a group marker, and the mailbox name field holds the group
    name phrase."; "if these header fields are present but empty, the corresponding member of
    the envelope is the empty string" ("Clients SHOULD treat NIL and the empty string as
    identical")."""
    mailbox(session, GROUPS)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    john = [["Doe, John", None, "john.doe", "example.com"]]
    end = [None, None, None, None]
    assert value[1] in ("", None), value
    value[1] = ""
    assert value == envelope(
        "Mon, 14 Feb 1994 12:00:00 +0000",
        "",
        john,
        john,
        john,
        [[None, None, "undisclosed-recipients", None], end],
        [
            [None, None, "Team", None],
            [None, None, "ann", "example.com"],
            ["Ben", None, "ben", "example.com"],
            end,
        ],
        None,
        None,
        "<groups-1@example.com>",
    )


def test_fetch_envelope_of_a_draft_without_headers_is_mostly_nil(session, mailbox):
    """RFC 9051 §7.5.2: "If the Date, Subject, In-Reply-To, and Message-ID header fields are
    absent in the [RFC5322] header, the corresponding member of the envelope is NIL"; "If the
    From, To, Cc, and Bcc header fields are absent [...] the corresponding member of the
    envelope is NIL."; the from, sender and reply-to members "can be NIL for a malformed or
    draft message"."""
    mailbox(session, DRAFT_WITHOUT_HEADERS)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    assert value == envelope(
        None, "unfinished draft", None, None, None, None, None, None, None, None
    )


def test_fetch_envelope_of_route_addresses_quoted_names_and_encoded_words(session, mailbox):
    """RFC 9051 §7.5.2: the address structure holds "display name, [SMTP] at-domain-list (source
    route and obs-route ABNF production from [RFC5322]), mailbox name (local-part ABNF production
    from [RFC5322]), and hostname"; the envelope is "computed by the server by parsing the
    [RFC5322] header into the component parts" (a quoted display name unquoted, a folded Subject
    unfolded; encoded-words are header text and stay as they are)."""
    mailbox(session, DETAILED)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    senders = [
        ["Route", "@relay1.example,@relay2.example", "route", "example.com"],
        ['Quoted "Name"', None, "q", "example.com"],
    ]
    assert value == envelope(
        "Tue, 1 Mar 2022 12:00:00 +0000",
        "=?utf-8?q?Gr=C3=BC=C3=9Fe?= and a long folded subject line",
        senders,
        senders,
        senders,
        [["=?utf-8?q?Gr=C3=BC=C3=9Fe?=", None, "g", "example.com"]],
        None,
        None,
        None,
        "<detailed-1@example.com>",
    ), value


def test_fetch_envelope_of_a_legacy_comment_name_keeps_the_addr_spec(session, mailbox):
    """RFC 9051 §7.5.2: the address structure is "display name, [SMTP] at-domain-list [...],
    mailbox name (local-part ABNF production from [RFC5322]), and hostname"; RFC 5322 §3.4 on
    `user@example.com (Real Name)`: "Some legacy implementations used the simple form where the
    addr-spec appears without the angle brackets, but included the name of the recipient in
    parentheses as a comment following the addr-spec.  Since the meaning of the information in
    a comment is unspecified [...]" — so the display name is that comment or NIL, and the
    comment is never part of the mailbox or host."""
    mailbox(session, LEGACY_NAME)
    value = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])
    (address,) = value[2]
    assert address[1:] == [None, "user", "example.com"], value
    assert address[0] in (None, "Real Name"), value
    assert value[3] == value[4] == value[2]  # Sender and Reply-To default to From


def test_fetch_envelope_subject_of_a_folded_field_is_unfolded(session, mailbox):
    """RFC 9051 §7.5.2: the envelope is "computed by the server by parsing the [RFC5322] header
    into the component parts"; RFC 5322 §2.2.3: "Unfolding is accomplished by simply removing
    any CRLF that is immediately followed by WSP." The white space stays (some servers, Dovecot
    among them, also make each run of it one space)."""
    mailbox(session, LEGACY_NAME)
    subject = plain(fetch_one(session, "1", "(ENVELOPE)")["ENVELOPE"])[1]
    assert subject in ("folded\tsubject  with spaces", "folded subject with spaces"), subject


# --- BODY and BODYSTRUCTURE --------------------------------------------------------------------


def test_fetch_bodystructure_of_a_single_part_text_message(session, mailbox):
    """RFC 9051 §7.5.2 BODYSTRUCTURE: "For example, a simple text message of 48 lines and 2279
    octets can have a body structure of: ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT"
    2279 48)"; "A body type of type TEXT contains, immediately after the basic fields, the size
    of the body in text lines."; body extension data: body MD5, disposition, language,
    location."""
    mailbox(session, PLAIN)
    value = mime(fetch_one(session, "1", "(BODYSTRUCTURE)")["BODYSTRUCTURE"])
    basic = ["text", "plain", ["charset", "us-ascii"], None, None, "7bit", len(PLAIN_TEXT)]
    assert value[:7] == basic and value[7] == Lines(PLAIN_TEXT), value
    assert prefix_matches(value, value[:8], [None, None, None, None]), value


def test_fetch_bodystructure_of_nested_multiparts_with_extension_data(session, mailbox):
    """RFC 9051 §7.5.2: "Multiple parts are indicated by parenthesis nesting.  Instead of a
    body type as the first element of the parenthesized list, there is a sequence of one or
    more nested body structures.  The second element of the parenthesized list is the
    multipart subtype"; "A body type of type MESSAGE and subtype RFC822 contains, immediately
    after the basic fields, the envelope structure, body structure, and size in text lines of
    the encapsulated message."; "Extension data follows the multipart subtype. [...] Extension
    data, if present, MUST be in the defined order." (parameters, disposition, language,
    location; for a single part first the body MD5)."""
    mailbox(session, NESTED)
    value = mime(fetch_one(session, "1", "(BODYSTRUCTURE)")["BODYSTRUCTURE"])
    inner_plain, inner_html, part1, part3 = nested_parts()
    single_extension = [None, None, None, None]
    parts = value[:3]
    assert prefix_matches(parts[0], part1, single_extension), parts[0]
    message_part = parts[1]
    assert message_part[:8] == [
        "message",
        "rfc822",
        None,
        None,
        "the original",
        "7bit",
        len(NESTED_RFC822),
        INNER_ENVELOPE,
    ], message_part
    inner = message_part[8]
    assert prefix_matches(inner[0], inner_plain, single_extension), inner[0]
    assert prefix_matches(inner[1], inner_html, single_extension), inner[1]
    assert prefix_matches(inner[2:], ["alternative"], [["boundary", "b2"], None, None, None])
    assert message_part[9] == Lines(NESTED_RFC822), message_part
    assert prefix_matches(message_part, message_part[:10], single_extension), message_part
    png_extension = [None, ["inline", ["filename", "dot.png"]], None, None]
    assert prefix_matches(parts[2], part3, png_extension), parts[2]
    assert prefix_matches(value[3:], ["mixed"], [["boundary", "b1"], None, None, None]), value


def test_fetch_bodystructure_extension_data_of_a_part(session, mailbox):
    """RFC 9051 §7.5.2: "The extension data of a non-multipart body part are in the following
    order: body MD5 [...] body disposition [...] body language A string or parenthesized list
    giving the body language value [...] body location A string giving the body content URI";
    "Servers SHOULD decode parameter-value continuations as described in [RFC2231], for
    example, if the message contains parameters "baz*0", "baz*1", and "baz*2", the server
    should decode them per [RFC2231], concatenate, and return the resulting value as a
    parameter "baz"." """
    mailbox(session, DETAILED)
    value = mime(fetch_one(session, "1", "(BODYSTRUCTURE)")["BODYSTRUCTURE"])
    text, pdf = value[0], value[1]
    body = body_of(DETAILED, b"Content-MD5", b"xx")
    basic = ["text", "plain", ["charset", "us-ascii"], None, None, "7bit", len(body), Lines(body)]
    language = text[10] if len(text) > 10 else ["en", "de"]
    assert [v.lower() for v in language] == ["en", "de"], text
    extension = ["Q2hlY2sgSW50ZWdyaXR5IQ==", None, language, "http://example.com/a.txt"]
    assert prefix_matches(text, basic, extension), text
    assert pdf[:3] == ["application", "pdf", ["name", "very-long-file.pdf"]], pdf


def test_fetch_body_is_bodystructure_without_extension_data(session, mailbox):
    """RFC 9051 §6.4.5: "BODY Non-extensible form of BODYSTRUCTURE."; RFC 9051 §7.5.2:
    "Extension data is never returned with the BODY fetch but can be returned with a
    BODYSTRUCTURE fetch." """
    mailbox(session, NESTED)
    value = mime(fetch_one(session, "1", "(BODY)")["BODY"])
    inner_plain, inner_html, part1, part3 = nested_parts()
    message_part = [
        "message",
        "rfc822",
        None,
        None,
        "the original",
        "7bit",
        len(NESTED_RFC822),
        INNER_ENVELOPE,
        [inner_plain, inner_html, "alternative"],
        Lines(NESTED_RFC822),
    ]
    assert value == [part1, message_part, part3, "mixed"], value


# --- BODY[section]<partial> ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("", PLAIN),
        ("HEADER", PLAIN_HEADER),
        ("TEXT", PLAIN_TEXT),
        ("1", PLAIN_TEXT),
    ],
    ids=["whole", "header", "text", "part-1"],
)
def test_fetch_body_section_of_a_single_part_message(session, mailbox, section, expected):
    """RFC 9051 §6.4.5: "If BODY[] is specified (the section specification is omitted), the
    FETCH is requesting the [RFC5322] expression of the entire message."; §6.4.5.1: "Messages
    that do not use MIME, and MIME messages that are not multipart and have no encapsulated
    message within them, only have a part 1."; "The TEXT part specifier refers to the text body
    of the message, omitting the [RFC5322] header."; "the blank line is included in all header
    fetches"."""
    mailbox(session, PLAIN)
    items = fetch_one(session, "1", f"(BODY.PEEK[{section}])")
    assert items[f"BODY[{section}]"] == expected


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("1", NESTED_QP),
        ("2", NESTED_RFC822),
        ("2.HEADER", INNER_HEADER),
        ("2.TEXT", INNER_TEXT),
        ("2.1", NESTED_INNER_PLAIN),
        ("2.2", NESTED_INNER_HTML),
        ("3", NESTED_PNG),
        ("3.MIME", header_of(NESTED, b"Content-Type: image/png")),
        ("2.1.MIME", header_of(NESTED, b"Content-Type: text/plain; charset=us-ascii")),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_fetch_body_section_of_nested_parts(session, mailbox, section, expected):
    """RFC 9051 §6.4.5.1: "If a particular part is of type message or multipart, its parts MUST
    be indicated by a period followed by the part number within that nested multipart part.";
    "A part of type MESSAGE/RFC822 or MESSAGE/GLOBAL also has nested part numbers, referring to
    parts of the MESSAGE part's body."; "The MIME part specifier refers to the [MIME-IMB]
    header for this part."; "The HEADER, HEADER.FIELDS, and HEADER.FIELDS.NOT part specifiers
    refer to the [RFC5322] header of the message or of an encapsulated [MIME-IMT]
    MESSAGE/RFC822 or MESSAGE/GLOBAL message."; BODY[section] is sent in its transfer encoding
    (§7.5.2: "The string SHOULD be interpreted by the client according to the content transfer
    encoding")."""
    mailbox(session, NESTED)
    items = fetch_one(session, "1", f"(BODY.PEEK[{section}])")
    assert items[f"BODY[{section}]"] == expected


def header_lines(block: bytes) -> tuple[set[bytes], bool]:
    """The field lines of a header block, and whether it ends with the blank line."""
    return set(block.split(b"\r\n\r\n")[0].split(b"\r\n")) - {b""}, block.endswith(b"\r\n\r\n")


def test_fetch_header_fields_returns_the_named_fields(session, mailbox):
    """RFC 9051 §6.4.5.1: "The subset returned by HEADER.FIELDS contains only those header
    fields with a field-name that matches one of the names in the list"; "The field-matching
    is ASCII-range case insensitive but is otherwise exact.  Subsetting does not exclude the
    [RFC5322] delimiting blank line between the header and the body"."""
    mailbox(session, PLAIN)
    items = fetch_one(session, "1", "(BODY.PEEK[HEADER.FIELDS (subject FROM X-Absent)])")
    (value,) = items.values()
    assert header_lines(value) == (
        {b"From: Fred Foobar <foobar@example.com>", b"Subject: afternoon meeting"},
        True,
    ), value


def test_fetch_header_fields_not_returns_the_other_fields(session, mailbox):
    """RFC 9051 §6.4.5.1: "similarly, the subset returned by HEADER.FIELDS.NOT contains only the
    header fields with a non-matching field-name."; the blank line "is included in all header
    fetches"."""
    mailbox(session, PLAIN)
    items = fetch_one(session, "1", "(BODY.PEEK[HEADER.FIELDS.NOT (Date Message-ID to)])")
    (value,) = items.values()
    expected = {
        b"From: Fred Foobar <foobar@example.com>",
        b"Subject: afternoon meeting",
        b"MIME-Version: 1.0",
        b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    }
    assert header_lines(value) == (expected, True), value


def test_fetch_header_fields_keep_folded_lines(session, mailbox):
    """RFC 9051 §6.4.5.1: "HEADER.FIELDS and HEADER.FIELDS.NOT are followed by a list of
    field-names (as defined in [RFC5322]) and return a subset of the header." — whole header
    fields, continuation lines included."""
    mailbox(session, DETAILED)
    (value,) = fetch_one(session, "1", "(BODY.PEEK[HEADER.FIELDS (Subject)])").values()
    assert value == (
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= and a long\r\n folded subject line\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("HEADER", HEADER_ONLY),
        pytest.param(
            "HEADER.FIELDS (SUBJECT)",
            b"Subject: only a header\r\n",
            marks=pytest.mark.dovecot_deviation("adds a blank line that the message lacks"),
        ),
        ("HEADER.FIELDS.NOT (FROM)", b"Subject: only a header\r\n"),
        ("TEXT", b""),
    ],
    ids=["header", "header-fields", "header-fields-not", "text"],
)
def test_fetch_header_of_a_message_without_body_has_no_blank_line(
    session, mailbox, section, expected
):
    """RFC 9051 §6.4.5.1: "the blank line is included in all header fetches, except in the case
    of a message that has no body and no blank line."; RFC 9051 §7.5.2: "the blank line is always
    included as part of the header data, except in the case of a message that has no body and no
    blank line." """
    mailbox(session, HEADER_ONLY)
    (value,) = fetch_one(session, "1", f"(BODY.PEEK[{section}])").values()
    assert plain(value).encode() == expected


def test_fetch_header_fields_of_an_attached_message(session, mailbox):
    """RFC 9051 §6.4.5.1: "The HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, and TEXT part
    specifiers can be the sole part specifier or can be prefixed by one or more numeric part
    specifiers, provided that the numeric part specifier refers to a part of type
    MESSAGE/RFC822 or MESSAGE/GLOBAL." """
    mailbox(session, NESTED)
    items = fetch_one(session, "1", "(BODY.PEEK[2.HEADER.FIELDS (SUBJECT)])")
    (value,) = items.values()
    assert header_lines(value) == ({b"Subject: original note"}, True), value


@pytest.mark.parametrize(
    ("partial", "origin", "expected"),
    [
        ("<0.10>", 0, PLAIN[:10]),
        ("<7.12>", 7, PLAIN[7:19]),
        (f"<{len(PLAIN) - 3}.10>", len(PLAIN) - 3, PLAIN[-3:]),
        (f"<0.{len(PLAIN) + 100}>", 0, PLAIN),
        (f"<{len(PLAIN) + 10}.5>", len(PLAIN) + 10, b""),
    ],
    ids=["start", "middle", "truncated-at-end", "zero-origin-whole", "beyond-end"],
)
def test_fetch_partial_returns_the_exact_window(session, mailbox, partial, origin, expected):
    """RFC 9051 §6.4.5: "It is possible to fetch a substring of the designated text.  This is
    done by appending an open angle bracket ("<"), the octet position of the first desired
    octet, a period, the maximum number of octets desired, and a close angle bracket (">") to
    the part specifier.  If the starting octet is beyond the end of the text, an empty string
    is returned."; "Any partial fetch that attempts to read beyond the end of the text is
    truncated as appropriate.  A partial fetch that starts at octet 0 is returned as a partial
    fetch, even if this truncation happened."; §7.5.2: "BODY[<section>]<<origin octet>>"."""
    mailbox(session, PLAIN)
    items = fetch_one(session, "1", f"(BODY.PEEK[]{partial})")
    assert f"BODY[]<{origin}>" in items, items
    assert plain(items[f"BODY[]<{origin}>"]).encode() == expected


def test_fetch_partial_of_header_fields_counts_after_subsetting(session, mailbox):
    """RFC 9051 §6.4.5: "Note: A substring fetch of a HEADER.FIELDS or HEADER.FIELDS.NOT part
    specifier is calculated after subsetting the header." """
    mailbox(session, PLAIN)
    items = fetch_one(session, "1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)]<9.9>)")
    (value,) = items.values()
    assert value == b"afternoon" or value == "afternoon", items


def test_fetch_partial_of_a_nested_part(session, mailbox):
    """RFC 9051 §6.4.5: the partial specifier is appended "to the part specifier" — any
    section, here a part of an attached message."""
    mailbox(session, NESTED)
    items = fetch_one(session, "1", "(BODY.PEEK[2.1]<6.5>)")
    assert plain(items["BODY[2.1]<6>"]).encode() == NESTED_INNER_PLAIN[6:11]


# --- \Seen ---------------------------------------------------------------------------------


def test_fetch_body_peek_does_not_set_seen(session, mailbox):
    """RFC 9051 §6.4.5: "BODY.PEEK[<section>]<<partial>> An alternate form of
    BODY[<section>] that does not implicitly set the \\Seen flag." """
    mailbox(session, PLAIN)
    assert_ok(session.command("FETCH", "1", "(BODY.PEEK[] BODY.PEEK[TEXT]<0.4>)"))
    assert "\\seen" not in message_flags(fetch_one(session, "1", "(FLAGS)"))


@pytest.mark.parametrize("item", ["BODY[]", "BODY[TEXT]", "BODY[1]<0.5>", "BODY[HEADER]"])
def test_fetch_body_sets_seen_and_reports_the_flags(session, mailbox, item):
    """RFC 9051 §6.4.5: BODY[<section>]: "The \\Seen flag is implicitly set; if this causes the
    flags to change, they SHOULD be included as part of the FETCH responses." """
    mailbox(session, PLAIN)
    result = session.command("FETCH", "1", f"({item})")
    assert_ok(result)
    reported = fetched(result)[1]
    assert "FLAGS" in reported and "\\seen" in message_flags(reported), result
    assert "\\seen" in message_flags(fetch_one(session, "1", "(FLAGS)"))


def test_fetch_body_after_examine_does_not_set_seen(session, mailbox, connect):
    """RFC 9051 §6.3.3 EXAMINE: "The selected mailbox is identified as read-only.  No changes
    to the permanent state of the mailbox, including per-user state, are permitted" — so
    BODY[] cannot set \\Seen."""
    box = mailbox(session, PLAIN, examine=True)
    assert_ok(session.command("FETCH", "1", "(BODY[])"))
    other = connect(login=True)
    assert_ok(other.select(box.name, examine=True))
    assert "\\seen" not in message_flags(fetch_one(other, "1", "(FLAGS)"))


# --- BINARY (RFC 9051; RFC 3516 for IMAP4rev1) ------------------------------------------------


@pytest.mark.parametrize(
    ("section", "expected"),
    [("1", NESTED_PART1_DECODED), ("3", NESTED_PART3_DECODED), ("2.1", NESTED_INNER_PLAIN)],
    ids=["quoted-printable", "base64", "7bit"],
)
def test_fetch_binary_returns_the_decoded_part(binary_session, mailbox, section, expected):
    """RFC 9051 §6.4.5: "BINARY[<section-binary>]<<partial>> Requests that the specified
    section be transmitted after performing decoding of the section's
    Content-Transfer-Encoding." (RFC 3516 §4.1)"""
    mailbox(binary_session, NESTED)
    items = fetch_one(binary_session, "1", f"(BINARY.PEEK[{section}])")
    value = items[f"BINARY[{section}]"]
    assert (value.encode() if isinstance(value, str) else value) == expected


def test_fetch_binary_with_nul_octets_is_a_literal8(binary_session, mailbox):
    """RFC 9051 §4.3: "unencoded binary strings are not permitted, unless returned in a
    <literal8> in response to a BINARY.PEEK[<section-binary>]<<partial>> or
    BINARY[<section-binary>]<<partial>> FETCH data item.  A "binary string" is any string with
    NUL characters."; msg-att-static =/ "BINARY" section-binary SP (nstring / literal8)."""
    mailbox(binary_session, NESTED)
    result = binary_session.command("FETCH", "1", "(BINARY.PEEK[3])")
    assert_ok(result)
    (response,) = result.of("FETCH")
    assert re.search(rb"BINARY\[3\] ~\{32\}\r\n", response.raw), response.raw


def test_fetch_binary_of_8bit_text_without_nul_is_a_string(binary_session, mailbox):
    """RFC 9051 §7.5.2: "If the domain of the decoded data is "8bit" and the data does not
    contain the NUL octet, the server SHOULD return the data in a <string> instead of a
    <literal8>; this allows the client to determine if the "8bit" data contains the NUL octet
    without having to explicitly scan the data stream for NULs." (RFC 3516 §4.2)"""
    mailbox(binary_session, EIGHT_BIT)
    result = binary_session.command("FETCH", "1", "(BINARY.PEEK[1])")
    assert_ok(result)
    (response,) = result.of("FETCH")
    literal8 = not re.search(rb"BINARY\[1\] (\{\d+\}\r\n|\")", response.raw)
    assert not literal8, f"8-bit data without NUL sent as a literal8: {response}"
    assert fetch_items(response)["BINARY[1]"] == EIGHT_BIT.split(b"\r\n\r\n", 1)[1]


def test_fetch_binary_partial_counts_decoded_octets(binary_session, mailbox):
    """RFC 9051 §6.4.5: "The semantics of a partial FETCH BINARY command are the same as for a
    partial FETCH BODY command, with the exception that the <partial> arguments refer to the
    DECODED section data."; §7.5.2: "If <number> is present, it refers to the offset within the
    DECODED section data." """
    mailbox(binary_session, NESTED)
    items = fetch_one(binary_session, "1", "(BINARY.PEEK[3]<4.8> BINARY.PEEK[1]<19.7>)")
    assert items["BINARY[3]<4>"] == NESTED_PART3_DECODED[4:12]
    value = items["BINARY[1]<19>"]
    assert (value.encode() if isinstance(value, str) else value) == NESTED_PART1_DECODED[19:26]


def test_fetch_binary_size_is_the_decoded_size(binary_session, mailbox):
    """RFC 9051 §7.5.2: "BINARY.SIZE[<section-binary>] The size of the section after removing
    any encoding specified in the corresponding Content-Transfer-Encoding header field.  The
    value returned MUST match the size of the <nstring> or <literal8> that will be returned by
    the corresponding FETCH BINARY request." """
    mailbox(binary_session, NESTED)
    items = fetch_one(binary_session, "1", "(BINARY.SIZE[1] BINARY.SIZE[3] BINARY.SIZE[2.2])")
    assert int(items["BINARY.SIZE[1]"]) == len(NESTED_PART1_DECODED)
    assert int(items["BINARY.SIZE[3]"]) == len(NESTED_PART3_DECODED)
    assert int(items["BINARY.SIZE[2.2]"]) == len(NESTED_INNER_HTML)


def test_fetch_binary_sets_seen_but_binary_peek_does_not(binary_session, mailbox):
    """RFC 9051 §6.4.5: "BINARY.PEEK[<section-binary>]<<partial>> An alternate form of
    BINARY[<section-binary>] that does not implicitly set the \\Seen flag." (so BINARY[...]
    does, like BODY[...])."""
    mailbox(binary_session, NESTED, NESTED)
    assert_ok(binary_session.command("FETCH", "1", "(BINARY.PEEK[1])"))
    assert_ok(binary_session.command("FETCH", "2", "(BINARY[1])"))
    result = binary_session.command("FETCH", "1:2", "(FLAGS)")
    flags = {n: message_flags(items) for n, items in fetched(result).items()}
    assert "\\seen" not in flags[1] and "\\seen" in flags[2], result


@pytest.mark.parametrize("item", ["BINARY.PEEK[1]", "BINARY.SIZE[1]"])
def test_fetch_binary_of_unknown_encoding_is_no_unknown_cte(binary_session, mailbox, item):
    """RFC 9051 §7.5.2: "If the server does not know how to decode the section's
    Content-Transfer-Encoding, it MUST fail the request and issue a "NO" response that contains
    the "UNKNOWN-CTE" response code." (RFC 3516 §4.3)"""
    mailbox(binary_session, UNKNOWN_CTE)
    assert_no(binary_session.command("FETCH", "1", f"({item})"), "UNKNOWN-CTE")
    assert_still_usable(binary_session)


def octets(value) -> bytes:
    """A string value's octets, whether it came quoted (str) or as a literal (bytes)."""
    return value.encode() if isinstance(value, str) else value


def test_fetch_binary_of_an_unencoded_multipart_in_rev1_is_its_octets(rev1, target, mailbox):
    """RFC 3516 §4.2: "BINARY<section-binary>[<partial>] Requests that the specified section be
    transmitted after performing CTE-related decoding."; section-binary = "[" [section-part]
    "]" admits any part in IMAP4rev1, multiparts and message/rfc822 too, and those can only be
    7bit, 8bit or binary (RFC 2045 §6.4, RFC 2046 §5.2.1): there is nothing to decode, so the
    octets are BODY[...]'s; §4.3: BINARY.SIZE "MUST match the size of the <nstring> or
    <literal8> that will be returned by the corresponding FETCH BINARY request"."""
    require(target.capabilities, "BINARY")
    mailbox(rev1, UNENCODED)
    items = fetch_one(
        rev1,
        "1",
        "(BINARY.PEEK[] BINARY.SIZE[] BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[2] BINARY.PEEK[2.2])",
    )
    assert octets(items["BINARY[]"]) == UNENCODED
    assert int(items["BINARY.SIZE[]"]) == len(UNENCODED)
    assert octets(items["BINARY[2]"]) == octets(items["BODY[2]"])
    assert int(items["BINARY.SIZE[2]"]) == len(octets(items["BODY[2]"]))
    assert octets(items["BINARY[2.2]"]) == body_of(UNENCODED, b"text/html", b"u2")


@pytest.mark.parametrize("section", ["", "2"], ids=["multipart", "message-rfc822"])
def test_fetch_binary_of_a_non_leaf_part_is_refused_in_rev2(rev2, mailbox, section):
    """RFC 9051 §6.4.5: "Note that this data item can only be requested for leaf body parts:
    those that have media types other than multipart/*, message/rfc822, or message/global." """
    mailbox(rev2, UNENCODED)
    assert_not_ok(rev2.command("FETCH", "1", f"(BINARY.PEEK[{section}])"))
    assert_still_usable(rev2)


@pytest.mark.parametrize(
    "items",
    [
        "(BODY.PEEK[])",
        "(BODY.PEEK[TEXT])",
        "(BODY.PEEK[1])",
        "(BODY.PEEK[]<0.300>)",
        "(BODY.PEEK[TEXT]<1.8>)",
        "(BODY.PEEK[1]<0.1>)",
    ],
)
def test_fetch_sends_no_nul_outside_a_literal8(session, mailbox, items):
    """RFC 9051 §4.3.1: "unencoded binary strings are not permitted, unless returned in a
    <literal8> in response to a BINARY.PEEK[<section-binary>]<<partial>> or
    BINARY[<section-binary>]<<partial>> FETCH data item.  A "binary string" is any string with
    NUL characters."; RFC 3501 §4.3: a literal is "zero or more octets" of CHAR8 (%x01-ff)."""
    mailbox(session, NUL_OCTETS)
    result = session.command("FETCH", "1", items)
    assert_ok(result)
    (response,) = result.of("FETCH")
    assert b"\x00" not in response.raw, response.raw


def test_fetch_rfc822_sends_no_nul(rev1, mailbox):
    """RFC 3501 §4.3: "A literal is a sequence of zero or more octets (including CR and LF)"
    of CHAR8 = %x01-ff; RFC822, RFC822.HEADER and RFC822.TEXT are literals."""
    mailbox(rev1, NUL_OCTETS)
    result = rev1.command("FETCH", "1", "(RFC822.HEADER RFC822.TEXT RFC822)")
    assert_ok(result)
    assert all(b"\x00" not in response.raw for response in result.of("FETCH")), result


def test_fetch_binary_returns_the_nul_octets(binary_session, mailbox):
    """RFC 9051 §7.5.2: BINARY is the section "after removing any encoding specified in the
    corresponding Content-Transfer-Encoding header field" (none for "binary"): the octets,
    NULs included, in a <literal8> (§4.3.1)."""
    mailbox(binary_session, NUL_OCTETS)
    items = fetch_one(binary_session, "1", "(BINARY.PEEK[1] BINARY.SIZE[1])")
    assert items["BINARY[1]"] == NUL_OCTETS_BODY
    assert int(items["BINARY.SIZE[1]"]) == len(NUL_OCTETS_BODY)


# --- macros and IMAP4rev1 items -------------------------------------------------------------


@pytest.mark.parametrize(
    ("macro", "items"),
    [
        ("ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}),
        ("FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}),
        ("FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}),
    ],
)
def test_fetch_macros_expand_to_their_items(session, mailbox, macro, items):
    """RFC 9051 §6.4.5: "ALL Macro equivalent to: (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)";
    "FAST Macro equivalent to: (FLAGS INTERNALDATE RFC822.SIZE)"; "FULL Macro equivalent to:
    (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)"."""
    mailbox(session, PLAIN)
    got = set(fetch_one(session, "1", macro))
    assert got == items, got


@pytest.mark.parametrize(
    ("item", "expected", "sets_seen"),
    [
        ("RFC822", PLAIN, True),
        ("RFC822.HEADER", PLAIN_HEADER, False),
        ("RFC822.TEXT", PLAIN_TEXT, True),
    ],
)
def test_fetch_rev1_rfc822_items(rev1, mailbox, item, expected, sets_seen):
    """RFC 3501 §6.4.5: "RFC822 Functionally equivalent to BODY[], differing in the syntax of
    the resulting untagged FETCH data (RFC822 is returned)."; "RFC822.HEADER Functionally
    equivalent to BODY.PEEK[HEADER]"; "RFC822.TEXT Functionally equivalent to BODY[TEXT]".
    (RFC 9051 Appendix E: these items "were deprecated" in IMAP4rev2.)"""
    mailbox(rev1, PLAIN)
    items = fetch_one(rev1, "1", f"({item})")
    assert items[item] == expected
    assert ("\\seen" in message_flags(fetch_one(rev1, "1", "(FLAGS)"))) == sets_seen


# --- message sets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sequence_set", "expected"),
    [("*", [3]), ("3:1", [1, 2, 3]), ("*:2", [2, 3]), ("2,1", [1, 2]), ("1:*", [1, 2, 3])],
)
def test_fetch_star_and_reversed_ranges(session, mailbox, sequence_set, expected):
    """RFC 9051 §9: seq-number: "* represents the largest number in use.  In the case of message
    sequence numbers, it is the number of messages in a non-empty mailbox."; seq-range: "two
    seq-number values and all values between these two regardless of order.  Example: 2:4 and
    4:2 are equivalent"."""
    box = mailbox(session, PLAIN, PLAIN, PLAIN)
    result = session.command("FETCH", sequence_set, "(UID)")
    assert_ok(result)
    found = fetched(result)
    assert sorted(found) == expected, result
    assert all(int(found[n]["UID"]) == box.uids[n - 1] for n in found)


@pytest.mark.parametrize(
    "sequence_set",
    [
        "0",
        "1:0",
        "x",
        pytest.param("1,", marks=pytest.mark.dovecot_deviation("accepts a trailing comma")),
        ",1",
        "1::2",
        "4",
        "2:4",
        "-1",
    ],
)
def test_fetch_invalid_message_set_is_bad(session, mailbox, sequence_set):
    """RFC 9051 §9: seq-number = nz-number / "*"; "The server should respond with a tagged BAD
    response to a command that uses a message sequence number greater than the number of
    messages in the selected mailbox."; §6.4.5: "BAD - command unknown or arguments
    invalid"."""
    mailbox(session, PLAIN, PLAIN, PLAIN)
    assert_bad(session.command("FETCH", sequence_set, "(UID)"))
    assert_still_usable(session)


def test_fetch_star_in_an_empty_mailbox_is_bad(session, mailbox):
    """RFC 9051 §9: "The server should respond with a tagged BAD response to a command that uses
    a message sequence number greater than the number of messages in the selected mailbox.
    This includes "*" if the selected mailbox is empty." """
    mailbox(session)
    assert_bad(session.command("FETCH", "*", "(UID)"))
    assert_still_usable(session)


@pytest.mark.parametrize(
    "items",
    [
        "(X-NO-SUCH-ITEM)",
        "(BODY[)",
        "(BODY[HEADER.FIELDS])",
        pytest.param(
            "(BODY[0])", marks=pytest.mark.dovecot_deviation("answers BODY[0] with an empty string")
        ),
        pytest.param(
            "(BODY.PEEK[4294967296])",
            marks=pytest.mark.dovecot_deviation("answers BODY[4294967296] with part 1"),
        ),
        pytest.param(
            "(BODY[]<0>)",
            marks=pytest.mark.dovecot_deviation("takes <0> as a partial without a length"),
        ),
        "(BODY[TEXT.MIME])",
        "(FLAGS",
        "()",
        pytest.param(
            "(BODY[]<0.0>)",
            marks=pytest.mark.dovecot_deviation("answers BODY[]<0.0> with an empty string"),
        ),
        "(ALL UID)",
        "ALL FAST",
        "(BODY.PEEK[MIME])",
        "(BODY.PEEK[HEADER.FIELDS ()])",
    ],
)
def test_fetch_invalid_data_items_are_bad(session, mailbox, items):
    """RFC 9051 §6.4.5: "BAD - command unknown or arguments invalid"; "A macro must be used by
    itself and not in conjunction with other macros or data items."; "The MIME part specifier
    MUST be prefixed by one or more numeric part specifiers."; fetch-att, section, header-list =
    "(" header-fld-name *(SP header-fld-name) ")", partial = "<" number64 "." nz-number64 ">",
    nz-number = "Non-zero unsigned 32-bit integer" (RFC 9051 §9)."""
    mailbox(session, PLAIN)
    assert_bad(session.command("FETCH", "1", items))
    assert_still_usable(session)


def test_fetch_without_selected_mailbox_is_bad(session):
    """RFC 9051 §6.4: FETCH is one of the commands "valid in the selected state"."""
    assert_bad(session.command("FETCH", "1", "(FLAGS)"))
    assert_still_usable(session)


def test_fetch_several_messages_answers_each(session, mailbox):
    """RFC 9051 §6.4.5: "C: A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)]) / S: * 2
    FETCH .... / S: * 3 FETCH .... / S: * 4 FETCH ...."; §7.5.2: "The data are pairs of data item
    names, and their values are in parentheses." """
    messages = [message(f"number {n}") for n in range(1, 6)]
    mailbox(session, *messages)
    result = session.command("FETCH", "2:4", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert_ok(result)
    found = fetched(result)
    assert sorted(found) == [2, 3, 4]
    for n in (2, 3, 4):
        (value,) = [v for k, v in found[n].items() if k.startswith("BODY[HEADER.FIELDS")]
        assert value == f"Subject: number {n}\r\n\r\n".encode(), found[n]
