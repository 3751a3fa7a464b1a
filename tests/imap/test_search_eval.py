"""SEARCH evaluation over a small mailbox of real-world messages: every key, decoding of
headers and bodies, dates in their own time zones, sequence sets, `$`, and what to load."""

from __future__ import annotations

import base64

import pytest

from elektromail import mime
from elektromail.imap.search import (
    MessageInfo,
    MissingData,
    SearchContext,
    bind,
    evaluate,
    parse_search,
)
from elektromail.imap.tokens import parse_arguments


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


PLAIN = crlf(b"""\
Date: Mon, 05 Feb 2024 10:00:00 +0100
From: Alice Example <alice@example.com>
To: Bob <bob@example.org>, carol@example.net
Cc: Dave <dave@example.com>
Bcc: eve@example.com
Subject: Quarterly report
Message-ID: <1@example.com>
X-Mailer: TestMailer 1.0

Hello Bob,
the numbers look fine.
""")

HTML_LATIN1 = base64.b64encode("<p>Grüße aus München, Straße</p>".encode("latin-1"))
ALTERNATIVE = crlf(
    b"""\
Date: Tue, 6 Feb 2024 00:30:00 +0100
From: =?iso-8859-1?q?Andr=E9?= <andre@example.fr>
To: Bob <bob@example.org>
Subject: =?utf-8?b?R3LDvMOfZSBhdXMgTcO8bmNoZW4=?=
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e =E2=80=94 price: =
5 =E2=82=AC
--alt
Content-Type: text/html; charset="ISO-8859-1"
Content-Transfer-Encoding: base64

"""
    + HTML_LATIN1
    + b"""
--alt--
"""
)

MIXED = crlf(b"""\
Date: Sun, 31 Dec 2023 23:59:59 +0000
From: Carol <carol@example.net>
To: team@example.org
Subject: =?iso-8859-1?q?R=E9union_=E0_Z=FCrich?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mix

This is a multi-part message in MIME format.
--mix
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: 8bit

R\xe9union \xe0 Z\xfcrich demain.
--mix
Content-Type: application/pdf; name=report.pdf
Content-Transfer-Encoding: base64

JVBERi0xLjQgc2VjcmV0cGRmd29yZA==
--mix
Content-Type: message/rfc822

Subject: Forwarded inner
From: Zed <zed@example.com>

Inner body words
--mix--
""")

RAW_8BIT = crlf(
    "From: J\xf6rg <joerg@example.de>\n".encode("latin-1")
    + """\
To: bob@example.org
Subject: Ünïcödé raw header

8-bit body: Grüße
""".encode()
)

ODDITIES = crlf(b"""\
Received: from mx1.example.com by mail.example.org
Received: from mx2.example.net by mx1.example.com
Date: garbage
From: Robot <robot@example.com>
Subject: folded
 subject line
X-Empty:
Content-Type: text/plain; charset=x-unknown-charset
Content-Transfer-Encoding: quoted-printable

Soft=
break and more
""")

UTF16 = base64.b64encode("UTF-16 body text".encode("utf-16"))
ENCODED_WORDS = crlf(
    "From: Zoë <zoe@example.org>\n".encode()
    + b"""\
Date: 1 Jan 24 00:30:00 -1100
Subject: =?UTF-8?Q?Caf=C3=A9?= =?UTF-8?Q?_ol=C3=A9?=
Content-Type: text/plain; charset=utf-16
Content-Transfer-Encoding: base64

"""
    + UTF16
    + b"\r\n"
)

# uid: (raw, flags, size, internal date as epoch seconds, zone in minutes); calendar dates in
# the message's own zone: 3 -> 1 Feb, 5 -> 6 Feb (+0100), 8 -> 31 Dec 2023, 13 -> 5 Feb
# (-0800), 21 -> 1 Feb, 34 -> 6 Feb.
MAILBOX = {
    3: (PLAIN, ("\\Seen", "\\Answered"), 1000, 1706788800, 0),
    5: (ALTERNATIVE, ("\\Flagged", "$Forwarded"), 2000, 1707175800, 60),
    8: (MIXED, ("\\Deleted", "\\Draft"), 3000, 1704067199, 0),
    13: (RAW_8BIT, (), 500, 1707188400, -480),
    21: (ODDITIES, ("Junk",), 1500, 1706788800, 0),
    34: (ENCODED_WORDS, ("\\Seen", "\\Flagged"), 2500, 1707188400, 0),
}
UIDS = sorted(MAILBOX)
SAVED = frozenset({3, 5, 13, 99})


def message(uid: int, structure: str = "json") -> MessageInfo:
    raw, flags, size, when, zone = MAILBOX[uid]
    parsed = mime.parse(raw)
    stored = {"json": mime.to_json(parsed), "parsed": parsed, "none": None}[structure]
    return MessageInfo(uid, flags, when, zone, size, stored, raw)


MESSAGES = [message(uid) for uid in UIDS]
CONTEXT = SearchContext(UIDS, SAVED)


def search(text: str, *, rev2: bool = False, messages=MESSAGES, ctx=CONTEXT) -> list[int]:
    program = parse_search(parse_arguments(text.encode()), rev2=rev2, utf8=False)
    return evaluate(program, messages, ctx)


EVERY = UIDS


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("ALL", EVERY, id="all"),
        pytest.param("SEEN", [3, 34], id="seen"),
        pytest.param("UNSEEN", [5, 8, 13, 21], id="unseen"),
        pytest.param("ANSWERED", [3], id="answered"),
        pytest.param("UNANSWERED", [5, 8, 13, 21, 34], id="unanswered"),
        pytest.param("FLAGGED", [5, 34], id="flagged"),
        pytest.param("UNFLAGGED", [3, 8, 13, 21], id="unflagged"),
        pytest.param("DELETED", [8], id="deleted"),
        pytest.param("UNDELETED", [3, 5, 13, 21, 34], id="undeleted"),
        pytest.param("DRAFT", [8], id="draft"),
        pytest.param("UNDRAFT", [3, 5, 13, 21, 34], id="undraft"),
        pytest.param("KEYWORD $forwarded", [5], id="keyword-case-insensitive"),
        pytest.param("KEYWORD junk", [21], id="keyword"),
        pytest.param("UNKEYWORD Junk", [3, 5, 8, 13, 34], id="unkeyword"),
        pytest.param("KEYWORD \\seen", [3, 34], id="keyword-system-flag-tolerated"),
        pytest.param("LARGER 1500", [5, 8, 34], id="larger-is-strict"),
        pytest.param("SMALLER 1500", [3, 13], id="smaller-is-strict"),
        pytest.param("LARGER 1499 SMALLER 1501", [21], id="size-window"),
        pytest.param("LARGER 9223372036854775807", [], id="larger-than-anything"),
    ],
)
def test_metadata_keys(text: str, uids: list[int]) -> None:
    assert search(text) == uids


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("ON 6-Feb-2024", [5, 34], id="on-east-of-utc-is-next-day"),
        pytest.param("ON 5-Feb-2024", [13], id="on-west-of-utc-is-previous-day"),
        pytest.param("ON 1-Jan-2024", [], id="on-no-match"),
        pytest.param("ON 31-Dec-2023", [8], id="on-last-second-of-year"),
        pytest.param("BEFORE 1-Feb-2024", [8], id="before-is-strict"),
        pytest.param("SINCE 1-Feb-2024", [3, 5, 13, 21, 34], id="since-includes-the-day"),
        pytest.param("SINCE 6-Feb-2024", [5, 34], id="since"),
        pytest.param("SINCE 2-Feb-2024 BEFORE 6-Feb-2024", [13], id="date-window"),
        pytest.param("SENTON 5-Feb-2024", [3], id="senton"),
        pytest.param("SENTON 6-Feb-2024", [5], id="senton-date-as-written"),
        pytest.param("SENTON 1-Jan-2024", [34], id="senton-two-digit-year"),
        pytest.param("SENTBEFORE 1-Jan-2024", [8], id="sentbefore"),
        pytest.param("SENTSINCE 01-Jan-2024", [3, 5, 34], id="sentsince"),
        pytest.param("NOT SENTON 5-Feb-2024", [5, 8, 13, 21, 34], id="no-date-header-negated"),
        pytest.param("SENTBEFORE 1-Jan-9999", [3, 5, 8, 34], id="missing-or-garbage-date"),
    ],
)
def test_date_keys(text: str, uids: list[int]) -> None:
    assert search(text) == uids


# The address shapes of imaptest's search-addresses script (and a few more), by UID.
ADDRESS_SHAPES = {
    1: "From: user-from@domain.org\nTo: user-to@domain.org\nBcc: user-bcc@domain.org\n",
    2: "From: RealFrom <user-from@domain.org>\nCc: RealCc <user-cc@domain.org>\n",
    3: "From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>\n",
    4: "From: user-from@domain.org (RealFrom)\nTo: user-to@domain.org (RealTo)\n",
    5: "From: user-from1@domain.org, user-from2@domain.org\n",
    6: "From: RealFrom <user-from@domain.org>\nTo: groupname: groupuser1@domain.org,\n"
    " groupuser2@domain.org;, groupname2: groupuser3@domain.org;\n",
    7: "From: RealFrom <user-from@domain.org>\nTo: groupname:;\n",
    8: 'From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <j@x.de>\nTo: "Doe, John" <jd@x>\n',
    9: "From: first@x.org\nFrom: second@y.org\nTo: (nobody at all)\n",
}


def address_shape(uid: int) -> MessageInfo:
    raw = crlf(ADDRESS_SHAPES[uid].encode() + b"Subject: s\n\nbody\n")
    return MessageInfo(uid, structure=mime.to_json(mime.parse(raw)), raw=raw)


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("FROM user-from@domain.org", [1, 2, 3, 4, 6, 7], id="address"),
        pytest.param("FROM comment", [], id="comments-are-not-searched"),
        pytest.param("FROM realfrom", [2, 4, 6, 7], id="display-name-and-trailing-comment"),
        pytest.param("FROM ser-fro", [1, 2, 3, 4, 5, 6, 7], id="substring"),
        pytest.param('FROM "RealFrom <user-from@"', [2, 4, 6, 7], id="written-name-addr"),
        pytest.param('FROM "<user-from@domain.org>"', [1, 2, 3, 4, 6, 7], id="written-addr"),
        pytest.param("FROM user-from2", [5], id="second-of-a-list"),
        pytest.param("FROM second@y.org", [9], id="second-from-field"),
        pytest.param('FROM "jörg müller"', [8], id="rfc2047-name-decoded"),
        pytest.param('FROM "=?utf-8"', [], id="rfc2047-name-not-encoded"),
        pytest.param('TO "\\"doe, john\\""', [8], id="quoted-name-written-quoted"),
        pytest.param("TO realto", [4], id="to-trailing-comment"),
        pytest.param("TO groupname", [6, 7], id="group-name"),
        pytest.param("TO groupname2", [6], id="second-group"),
        pytest.param("TO groupuser3", [6], id="member-of-the-second-group"),
        pytest.param('TO "groupname:;"', [7], id="empty-group-written"),
        pytest.param("TO nobody", [], id="a-comment-alone-is-no-address"),
        pytest.param('TO ""', [1, 3, 4, 6, 7, 8, 9], id="empty-string-needs-the-field"),
        pytest.param("CC realcc", [2], id="cc"),
        pytest.param("BCC user-bcc", [1], id="bcc"),
        pytest.param('HEADER From "(comment)"', [3], id="header-reads-the-raw-text"),
    ],
)
def test_address_keys_match_the_written_envelope_addresses(text: str, uids: list[int]) -> None:
    """RFC 9051 §6.4.4: "FROM <string> Messages that contain the specified string in the
    envelope structure's FROM field." (TO, CC, BCC likewise): the addresses as parsed, written
    `Name <mailbox@host>`, as Dovecot matches them; HEADER reads the field's text."""
    messages = [address_shape(uid) for uid in ADDRESS_SHAPES]
    assert search(text, messages=messages, ctx=SearchContext(sorted(ADDRESS_SHAPES))) == uids


def test_address_keys_read_only_the_stored_structure() -> None:
    """A FROM key needs the envelope only: no raw bytes, no part tree."""
    message = address_shape(4)
    without_raw = MessageInfo(4, structure=message.structure)
    assert search("FROM realfrom", messages=[without_raw], ctx=SearchContext([4])) == [4]


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("FROM alice", [3], id="from-name"),
        pytest.param("FROM ALICE@EXAMPLE.COM", [3], id="from-address-any-case"),
        pytest.param('FROM "\\"Alice Example\\" <alice@"', [3], id="from-written-address"),
        pytest.param('FROM "Alice Example <alice"', [], id="from-not-the-raw-field-text"),
        pytest.param('FROM "André"', [5], id="from-rfc2047-latin1"),
        pytest.param('FROM "jörg"', [13], id="from-8bit-latin1-byte"),
        pytest.param('FROM "Zoë"', [34], id="from-8bit-utf8"),
        pytest.param("FROM example", EVERY, id="from-substring"),
        pytest.param("TO bob", [3, 5, 13], id="to"),
        pytest.param("TO carol@example.net", [3], id="to-second-address"),
        pytest.param("CC dave", [3], id="cc"),
        pytest.param("CC nobody", [], id="cc-no-match"),
        pytest.param("BCC eve", [3], id="bcc"),
        pytest.param('BCC ""', [3], id="empty-string-needs-the-field"),
        pytest.param("SUBJECT report", [3], id="subject"),
        pytest.param('SUBJECT "GRÜSSE"', [5], id="subject-rfc2047-utf8-casefolded"),
        pytest.param('SUBJECT "münchen"', [5], id="subject-rfc2047-utf8"),
        pytest.param('SUBJECT "zürich"', [8], id="subject-rfc2047-latin1"),
        pytest.param('SUBJECT "ünïcödé"', [13], id="subject-8bit-utf8"),
        pytest.param('SUBJECT "folded subject"', [21], id="subject-unfolded"),
        pytest.param('SUBJECT "café olé"', [34], id="adjacent-encoded-words-joined"),
        pytest.param('SUBJECT "=?utf-8?"', [], id="encoded-words-are-decoded"),
        pytest.param('SUBJECT ""', EVERY, id="subject-empty"),
        pytest.param("HEADER X-Mailer testmailer", [3], id="header"),
        pytest.param('HEADER x-mailer ""', [3], id="header-present"),
        pytest.param('HEADER X-Empty ""', [21], id="header-present-but-empty"),
        pytest.param('HEADER X-Absent ""', [], id="header-absent"),
        pytest.param("HEADER Received mx2.example.net", [21], id="header-repeated-field"),
        pytest.param("HEADER message-id <1@", [3], id="header-any-field"),
        pytest.param('HEADER Subject "inner"', [], id="header-top-level-only"),
    ],
)
def test_header_keys(text: str, uids: list[int]) -> None:
    assert search(text) == uids


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("BODY numbers", [3], id="body"),
        pytest.param("BODY NUMBERS", [3], id="body-case-insensitive"),
        pytest.param('BODY "crème"', [5], id="body-quoted-printable-utf8"),
        pytest.param('BODY "price: 5 €"', [5], id="body-qp-soft-line-break"),
        pytest.param('BODY "straße"', [5], id="body-base64-latin1-html"),
        pytest.param('BODY "grüße"', [5, 13], id="body-8bit-without-charset"),
        pytest.param('BODY "réunion"', [8], id="body-8bit-latin1"),
        pytest.param("BODY secretpdfword", [], id="body-skips-non-text-parts"),
        pytest.param('BODY "inner body words"', [8], id="body-of-attached-message"),
        pytest.param('BODY "forwarded inner"', [], id="body-excludes-headers"),
        pytest.param("BODY softbreak", [21], id="body-unknown-charset"),
        pytest.param('BODY "utf-16 body"', [34], id="body-utf16-base64"),
        pytest.param("BODY quarterly", [], id="subject-is-not-body"),
        pytest.param("BODY multi-part", [], id="preamble-is-not-text"),
        pytest.param('BODY ""', EVERY, id="body-empty-string"),
        pytest.param("TEXT quarterly", [3], id="text-header"),
        pytest.param("TEXT numbers", [3], id="text-body"),
        pytest.param('TEXT "forwarded inner"', [8], id="text-attached-message-header"),
        pytest.param("TEXT application/pdf", [8], id="text-mime-header"),
        pytest.param('TEXT "x-mailer: testmailer"', [3], id="text-field-name"),
        pytest.param('TEXT "münchen"', [5], id="text-decoded-header"),
        pytest.param("TEXT secretpdfword", [], id="text-skips-non-text-parts"),
    ],
)
def test_text_keys(text: str, uids: list[int]) -> None:
    assert search(text) == uids


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("1", [3], id="seq"),
        pytest.param("2:3", [5, 8], id="seq-range"),
        pytest.param("3:2", [5, 8], id="seq-range-reversed"),
        pytest.param("1,3,5", [3, 8, 21], id="seq-list"),
        pytest.param("*", [34], id="seq-star"),
        pytest.param("5:*", [21, 34], id="seq-to-star"),
        pytest.param("9:*", [34], id="seq-star-range-clamped"),
        pytest.param("UID 5:13", [5, 8, 13], id="uid-range"),
        pytest.param("UID 4", [], id="uid-missing"),
        pytest.param("UID *", [34], id="uid-star"),
        pytest.param("UID 100:*", [34], id="uid-star-below-low"),
        pytest.param("UID 1:4,30:40", [3, 34], id="uid-set"),
        pytest.param("$", [3, 5, 13], id="saved"),
        pytest.param("UID $", [3, 5, 13], id="uid-saved"),
        pytest.param("NOT $", [8, 21, 34], id="not-saved"),
        pytest.param("$ SEEN", [3], id="saved-and-flag"),
    ],
)
def test_set_keys(text: str, uids: list[int]) -> None:
    assert search(text) == uids


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("OR SEEN FLAGGED", [3, 5, 34], id="or"),
        pytest.param("NOT OR SEEN FLAGGED", [8, 13, 21], id="not-or"),
        pytest.param("OR (SEEN LARGER 2000) DELETED", [8, 34], id="or-of-group"),
        pytest.param(
            'NOT (FROM alice OR TO bob SUBJECT "zürich")', [5, 8, 13, 21, 34], id="not-group"
        ),
        pytest.param('OR BODY "crème" SUBJECT "zürich"', [5, 8], id="or-content"),
        pytest.param("2:4 UNSEEN NOT DRAFT", [5, 13], id="set-and-flags"),
        pytest.param("OR OR 1 2 OR 3 UID 34", [3, 5, 8, 34], id="or-chain"),
        pytest.param("NOT NOT NOT SEEN", [5, 8, 13, 21], id="odd-negations"),
        pytest.param("SEEN UNSEEN", [], id="contradiction"),
    ],
)
def test_combinations(text: str, uids: list[int]) -> None:
    assert search(text) == uids


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("RECENT", [], id="recent"),
        pytest.param("NEW", [], id="new"),
        pytest.param("OLD", EVERY, id="old"),
        pytest.param("NOT RECENT", EVERY, id="not-recent"),
    ],
)
def test_rev1_recent_keys_without_recent_flag(text: str, uids: list[int]) -> None:
    assert search(text, rev2=False) == uids


@pytest.mark.parametrize("structure", ["json", "parsed", "none"])
def test_structure_may_be_json_parsed_or_absent(structure: str) -> None:
    messages = [message(uid, structure) for uid in UIDS]
    assert search('TEXT "forwarded inner"', messages=messages) == [8]
    assert search("SENTON 6-Feb-2024", messages=messages) == [5]


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        pytest.param("7", "NOT ALL", id="above-exists"),
        pytest.param("1:7", "1:*", id="range-above-exists"),
        pytest.param("7:*", "*", id="to-star"),
        pytest.param("OR SEEN 7", "SEEN", id="nested"),
        pytest.param("NOT 7", "ALL", id="negated"),
        pytest.param("2,4294967295", "2", id="largest-number"),
    ],
)
def test_sequence_number_above_exists_matches_nothing(text: str, same_as: str) -> None:
    """As Dovecot: SEARCH 1000 in a smaller mailbox is an empty OK (FETCH answers BAD)."""
    assert search(text) == search(same_as)


@pytest.mark.parametrize(
    ("text", "uids"),
    [
        pytest.param("*", [], id="star"),
        pytest.param("UID 1:*", [], id="uid-star"),
        pytest.param("ALL", [], id="all"),
        pytest.param("$", [], id="saved"),
    ],
)
def test_empty_mailbox(text: str, uids: list[int]) -> None:
    assert search(text, messages=[], ctx=SearchContext([])) == uids


def test_sequence_number_in_empty_mailbox_matches_nothing() -> None:
    assert search("1", messages=[], ctx=SearchContext([])) == []


def test_content_key_without_raw_is_a_server_bug() -> None:
    bare = [MessageInfo(uid, MAILBOX[uid][1]) for uid in UIDS]
    assert search("SEEN", messages=bare) == [3, 34]
    with pytest.raises(MissingData):
        search("SUBJECT x", messages=bare)


def test_cheap_keys_decide_before_content_is_read() -> None:
    # The message has no raw text: the flag test fails first, so BODY is never evaluated.
    bare = [MessageInfo(3, ())]
    assert search("BODY x SEEN", messages=bare) == []
    assert search("OR SEEN BODY x", messages=[MessageInfo(3, ("\\Seen",))]) == [3]


def matcher(text: str, ctx: SearchContext = CONTEXT):
    return bind(parse_search(parse_arguments(text.encode()), rev2=False, utf8=False), ctx)


FLAGS = {uid: MAILBOX[uid][1] for uid in UIDS}


@pytest.mark.parametrize(
    ("text", "with_flags", "without_flags", "needs_store"),
    [
        pytest.param("SEEN", [3, 34], EVERY, False, id="flags-answered-from-view"),
        pytest.param("OR 1 SEEN", [3, 34], EVERY, False, id="or-of-set-and-flag"),
        pytest.param("UNSEEN 2:6 UID 1:13", [5, 8, 13], [5, 8, 13], False, id="sets-and-flags"),
        pytest.param("2:5 BODY x", [5, 8, 13, 21], [5, 8, 13, 21], True, id="set-narrows-load"),
        pytest.param("$ LARGER 5", [3, 5, 13], [3, 5, 13], True, id="saved-narrows-load"),
        pytest.param("UNSEEN SUBJECT x", [5, 8, 13, 21], EVERY, True, id="flags-narrow-load"),
        pytest.param("RECENT", [], [], False, id="nothing"),
        pytest.param("NOT 1:3", [13, 21, 34], [13, 21, 34], False, id="negated-set"),
        pytest.param("OR SEEN BODY x", EVERY, EVERY, True, id="or-with-content"),
    ],
)
def test_candidates_narrow_what_to_load(
    text: str, with_flags: list[int], without_flags: list[int], needs_store: bool
) -> None:
    bound = matcher(text)
    assert bound.candidates(FLAGS) == with_flags
    assert bound.candidates() == without_flags
    assert bound.needs_store is needs_store
    if not needs_store:  # then the candidates are the answer
        assert with_flags == [m.uid for m in MESSAGES if bound(m)]


def test_context_from_view_copies_uids() -> None:
    class View:
        uids = [1, 2, 3]
        recent = {3}

    view = View()
    ctx = SearchContext.from_view(view, saved=[2])
    view.uids.append(4)
    assert list(ctx.uids) == [1, 2, 3]
    assert matcher("$", ctx).candidates() == [2]


def test_big_mailbox_flag_search_is_fast_enough() -> None:
    uids = list(range(1, 100_001))
    flags = {uid: ("\\Seen",) if uid % 3 else () for uid in uids}
    bound = matcher("UNSEEN 1000:*", SearchContext(uids))
    result = bound.candidates(flags)
    assert result[:2] == [1002, 1005] and len(result) == 33_000


def test_store_rows_are_search_messages() -> None:
    from elektromail.store import MessageRow

    raw, flags, size, when, zone = MAILBOX[5]
    row = MessageRow(5, flags, when, zone, size, mime.to_json(mime.parse(raw)), raw)
    assert search('OR BODY "crème" SEEN', messages=[row]) == [5]
    assert search("SENTON 6-Feb-2024 LARGER 1999 ON 6-Feb-2024", messages=[row]) == [5]
