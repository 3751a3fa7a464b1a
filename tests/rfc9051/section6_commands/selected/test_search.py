"""RFC 9051 §6.4.4 SEARCH and UID SEARCH: every search key, result options (RFC 4731 ESEARCH
for IMAP4rev1), the "$" result variable (RFC 5182 SEARCHRES), CHARSET, decoded headers and
bodies; the SEARCH response of IMAP4rev1 (RFC 3501 §7.2.5) against ESEARCH of IMAP4rev2."""

from __future__ import annotations

import pytest

from tests.rfc9051.assertions import (
    assert_bad,
    assert_no,
    assert_no_untagged,
    assert_ok,
    assert_still_usable,
    assert_untagged,
    fetch_one,
    fetched,
    message_count,
    one_esearch,
    require_extension,
    search_hits,
)
from tests.rfc9051.client import Literal, quote
from tests.rfc9051.fixtures import (
    ADDRESS_SHAPES,
    ENCODED_HEADERS,
    GROUPS,
    MULTIPART,
    NESTED,
    PLAIN,
    Stored,
)
from tests.rfc9051.response import plain

# The corpus every test searches: flags, keywords and internal dates (in 2020) differ per
# message; the Date: header fields are all in February 1994.
CORPUS = (
    # 1: Fred Foobar to mooch, "afternoon meeting", sent 7-Feb-1994
    Stored(PLAIN, flags="\\Seen \\Answered", date="01-Mar-2020 12:00:00 +0000"),
    # 2: Alice to Bob, "report with attachment", sent 8-Feb-1994
    Stored(MULTIPART, flags="\\Flagged $Work", date="15-Mar-2020 12:00:00 +0000"),
    # 3: RFC 2047 headers (Jörg Bräuer to Zoë, "Grüße aus Köln"), base64 body, 12-Feb-1994
    Stored(ENCODED_HEADERS, flags="\\Deleted \\Draft", date="31-Mar-2020 12:00:00 +0000"),
    # 4: Carol to Dave and erin, Cc Frank, Bcc Heidi, "forwarded note", quoted-printable
    #    part and an attached message from Grace, sent 11-Feb-1994
    Stored(NESTED, flags="\\Seen $Work", date="01-Apr-2020 12:00:00 +0000"),
    # 5: groups, empty Subject, sent 14-Feb-1994
    Stored(GROUPS, flags="", date="02-Apr-2020 12:00:00 +0000"),
)
EVERY = [1, 2, 3, 4, 5]


@pytest.fixture
def corpus(session, mailbox):
    """The CORPUS, selected read-write by a session in either dialect."""
    return mailbox(session, *CORPUS)


def search(client, *criteria) -> list[int]:
    return search_hits(client.command("SEARCH", *criteria))


def uid_search(client, *criteria) -> list[int]:
    return search_hits(client.command("UID", "SEARCH", *criteria))


def others(*numbers: int) -> list[int]:
    return [n for n in EVERY if n not in numbers]


# --- search keys -------------------------------------------------------------------------


def test_search_all_matches_every_message(session, corpus):
    """RFC 9051 §6.4.4: "ALL All messages in the mailbox; the default initial key for
    ANDing." """
    assert search(session, "ALL") == EVERY


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ANSWERED", [1]),
        ("UNANSWERED", others(1)),
        ("DELETED", [3]),
        ("UNDELETED", others(3)),
        ("DRAFT", [3]),
        ("UNDRAFT", others(3)),
        ("FLAGGED", [2]),
        ("UNFLAGGED", others(2)),
        ("SEEN", [1, 4]),
        ("UNSEEN", others(1, 4)),
    ],
)
def test_search_flag_keys(session, corpus, key, expected):
    """RFC 9051 §6.4.4: "ANSWERED Messages with the \\Answered flag set." ... "UNANSWERED
    Messages that do not have the \\Answered flag set." — and likewise DELETED/UNDELETED,
    DRAFT/UNDRAFT, FLAGGED/UNFLAGGED, SEEN/UNSEEN."""
    assert search(session, key) == expected


def test_search_keyword_and_unkeyword(session, corpus):
    """RFC 9051 §6.4.4: "KEYWORD <flag> Messages with the specified keyword flag set." /
    "UNKEYWORD <flag> Messages that do not have the specified keyword flag set." """
    assert search(session, "KEYWORD", "$Work") == [2, 4]
    assert search(session, "UNKEYWORD", "$Work") == [1, 3, 5]
    assert search(session, "KEYWORD", "$NeverSet") == []


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("FROM", "foobar", [1]),
        ("FROM", "carol@example.org", [4]),
        ("FROM", "grace", []),  # the From: of the message attached to 4, not 4's envelope
        ("TO", "mooch", [1]),
        ("TO", "bob@example.com", [2]),
        ("TO", "erin", [4]),
        ("CC", "frank", [4]),
        ("CC", "ann@example.com", [5]),  # a member of a group
        ("BCC", "heidi", [4]),
        ("BCC", "frank", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_search_address_keys_match_the_envelope_field(session, corpus, key, value, expected):
    """RFC 9051 §6.4.4: "FROM <string> Messages that contain the specified string in the
    envelope structure's FROM field." (TO, CC and BCC likewise); "a message matches the key if
    the string is a substring of the associated text." """
    assert search(session, key, quote(value)) == expected


@pytest.fixture
def shapes(session, mailbox):
    """ADDRESS_SHAPES (imaptest's search-addresses messages), selected."""
    return mailbox(session, *ADDRESS_SHAPES)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("FROM", "user-from@domain.org", [1, 2, 3, 4, 6, 7]),
        ("TO", "user-to@domain.org", [1, 2, 3, 4]),
        ("CC", "user-cc@domain.org", [1, 2, 3, 4, 5]),
        ("BCC", "user-bcc@domain.org", [1, 2, 3, 4]),
        ("FROM", "ser-fro", [1, 2, 3, 4, 5, 6, 7]),
        ("BCC", "ser-bc", [1, 2, 3, 4]),
        ("FROM", "user-from2", [5]),
        ("TO", "groupname", [6, 7]),
        ("TO", "groupname2", [6]),
        ("TO", "groupuser3", [6]),
        ("TO", "groupuser4", []),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_search_address_keys_match_mailbox_at_host(session, shapes, key, value, expected):
    """RFC 9051 §6.4.4: "FROM <string> Messages that contain the specified string in the
    envelope structure's FROM field."; §7.5.2: the envelope's address structure holds "display
    name, [SMTP] at-domain-list (source route and obs-route ABNF production from [RFC5322]),
    mailbox name (local-part ABNF production from [RFC5322]), and hostname" and "[RFC5322]
    group syntax is indicated by a special form of address structure in which the host name
    field is NIL. [...] the mailbox name field holds the group name phrase." An address is
    found as mailbox@host, however the header spelled it (3 has comments inside the angle
    brackets), and a group by its name."""
    assert search(session, key, quote(value)) == expected


def test_search_address_keys_do_not_match_comments_outside_the_envelope(session, shapes):
    """RFC 9051 §6.4.4: FROM matches "the envelope structure's FROM field"; a comment inside
    an angle address (3: `<user-from (comment)@ (comment) domain.org>`) is in no field of the
    address structure (§7.5.2), so it is not found; the header text still has it."""
    assert search(session, "FROM", "comment") == []
    assert search(session, "HEADER", "From", quote("(comment)")) == [3]


@pytest.mark.parametrize("key", ["FROM", "TO", "CC", "BCC"])
def test_search_address_keys_match_display_names_as_the_envelope_has_them(session, shapes, key):
    """RFC 9051 §6.4.4 (FROM <string> ... "in the envelope structure's FROM field", and TO, CC,
    BCC likewise) and §7.5.2 (the address structure's first field is the display name): 2 has
    name-addr display names, 6 and 7 From only; 4 has the legacy trailing comment of RFC 5322
    §3.4 (`user-from@domain.org (RealFrom)`), whose meaning RFC 5322 leaves "unspecified":
    4 matches exactly when the server's ENVELOPE takes the comment as the display name."""
    field = {"FROM": 2, "TO": 5, "CC": 6, "BCC": 7}[key]
    name = "Real" + key.capitalize()
    legacy = plain(fetch_one(session, "4", "(ENVELOPE)")["ENVELOPE"])[field][0]
    assert legacy[0] in (None, name), legacy  # the comment is the name, or nothing is
    expected = [2, 4] if legacy[0] else [2]
    if key == "FROM":
        expected += [6, 7]
    assert search(session, key, name.lower()) == expected
    assert search(session, key, quote(name[1:-1])) == expected  # a substring of the name


def test_search_subject_is_a_case_insensitive_substring(session, corpus):
    """RFC 9051 §6.4.4: "SUBJECT <string> Messages that contain the specified string in the
    envelope structure's SUBJECT field."; "a message matches the key if the string is a
    substring of the associated text.  The matching SHOULD be case insensitive for characters
    within the ASCII range." """
    assert search(session, "SUBJECT", "MEETING") == [1]
    assert search(session, "SUBJECT", "note") == [4]  # not the attached "original note"
    assert search(session, "SUBJECT", quote("ternoon mee")) == [1]


def test_search_header_matches_the_field_text(session, corpus):
    """RFC 9051 §6.4.4: "HEADER <field-name> <string> Messages that have a header field with
    the specified field-name (as defined in [RFC5322]) and that contain the specified string
    in the text of the header field (what comes after the colon)." """
    assert search(session, "HEADER", "Message-ID", quote("<multipart-1@")) == [2]
    assert search(session, "HEADER", "message-id", quote("example.org")) == [4]
    assert search(session, "HEADER", "Subject", quote("Message-Id")) == []


def test_search_header_with_empty_string_matches_field_presence(session, corpus):
    """RFC 9051 §6.4.4: "If the string to search is zero-length, this matches all messages
    that have a header field with the specified field-name regardless of the contents." """
    assert search(session, "HEADER", "In-Reply-To", quote("")) == [4]
    assert search(session, "HEADER", "Subject", quote("")) == EVERY  # 5's is empty
    assert search(session, "HEADER", "X-Never-Present", quote("")) == []


def test_search_body_does_not_match_header_fields(session, corpus):
    """RFC 9051 §6.4.4: "BODY <string> Messages that contain the specified string in the body
    of the message.  Unlike TEXT (see below), this doesn't match any header fields." """
    assert search(session, "BODY", "tomorrow") == [1]
    assert search(session, "BODY", "afternoon") == []  # only in 1's Subject


def test_search_text_matches_header_and_body(session, corpus):
    """RFC 9051 §6.4.4: "TEXT <string> Messages that contain the specified string in the
    header (including MIME header fields) or body of the message." """
    assert search(session, "TEXT", "afternoon") == [1]
    assert search(session, "TEXT", "tomorrow") == [1]
    assert search(session, "TEXT", quote("multipart/alternative")) == [2, 4]


@pytest.mark.parametrize(
    ("key", "date", "expected"),
    [
        ("BEFORE", "31-Mar-2020", [1, 2]),
        ("BEFORE", "1-Jan-2000", []),  # the Date: fields are in 1994; BEFORE ignores them
        ("ON", "31-Mar-2020", [3]),
        ("ON", "1-Apr-2020", [4]),
        ("SINCE", "31-Mar-2020", [3, 4, 5]),
        ("SINCE", "3-Apr-2020", []),
    ],
)
def test_search_date_keys_use_the_internal_date(session, corpus, key, date, expected):
    """RFC 9051 §6.4.4: "BEFORE <date> Messages whose internal date (disregarding time and
    timezone) is earlier than the specified date."; "ON <date> ... is within the specified
    date."; "SINCE <date> ... is within or later than the specified date." """
    assert search(session, key, date) == expected


@pytest.mark.parametrize(
    ("key", "date", "expected"),
    [
        ("SENTBEFORE", "9-Feb-1994", [1, 2]),
        ("SENTBEFORE", "1-Jan-2020", EVERY),  # the internal dates are in 2020
        ("SENTON", "11-Feb-1994", [4]),
        ("SENTON", "12-Feb-1994", [3]),
        ("SENTSINCE", "12-Feb-1994", [3, 5]),
        ("SENTSINCE", "1-Mar-2020", []),
    ],
)
def test_search_sent_keys_use_the_date_header(session, corpus, key, date, expected):
    """RFC 9051 §6.4.4: "SENTBEFORE <date> Messages whose [RFC5322] Date: header field
    (disregarding time and timezone) is earlier than the specified date."; "SENTON ... is
    within the specified date."; "SENTSINCE ... is within or later than the specified
    date." """
    assert search(session, key, date) == expected


def test_search_larger_and_smaller_compare_strictly(session, corpus):
    """RFC 9051 §6.4.4: "LARGER <n> Messages with an RFC822.SIZE larger than the specified
    number of octets." / "SMALLER <n> Messages with an RFC822.SIZE smaller than the specified
    number of octets." """
    sizes = {n: len(stored.data) for n, stored in enumerate(CORPUS, 1)}
    pivot = sizes[1]
    assert search(session, "LARGER", str(pivot)) == [n for n in EVERY if sizes[n] > pivot]
    assert search(session, "SMALLER", str(pivot)) == [n for n in EVERY if sizes[n] < pivot]
    assert search(session, "LARGER", str(pivot - 1), "SMALLER", str(pivot + 1)) == [1]


def test_search_size_keys_accept_the_largest_number64(session, corpus):
    """RFC 9051 §9: "LARGER" SP number64 / "SMALLER" SP number64; number64 = 1*DIGIT ; Unsigned
    63-bit integer (0 <= n <= 9,223,372,036,854,775,807)."""
    largest = "9223372036854775807"
    assert search(session, "LARGER", largest) == []
    assert search(session, "SMALLER", largest) == EVERY


def test_search_uid_key_matches_unique_identifiers(session, corpus):
    """RFC 9051 §6.4.4: "UID <sequence set> Messages with unique identifiers corresponding to
    the specified unique identifier set.  Sequence-set ranges are permitted." """
    uids = corpus.uids
    assert search(session, "UID", f"{uids[1]},{uids[3]}") == [2, 4]
    assert search(session, "UID", f"{uids[4]}:{uids[2]}") == [3, 4, 5]
    assert search(session, "UID", f"{uids[4] + 100}:{uids[4] + 200}") == []


@pytest.mark.parametrize(
    ("sequence_set", "expected"),
    [("2,4", [2, 4]), ("4:2", [2, 3, 4]), ("*", [5]), ("3:*", [3, 4, 5]), ("1,1:2", [1, 2])],
)
def test_search_sequence_set_key(session, corpus, sequence_set, expected):
    """RFC 9051 §6.4.4: "<sequence set> Messages with message sequence numbers corresponding
    to the specified message sequence number set."; §9: seq-range: "two seq-number values and
    all values between these two regardless of order"."""
    assert search(session, sequence_set) == expected


def test_search_not_negates_a_key(session, corpus):
    """RFC 9051 §6.4.4: "NOT <search-key> Messages that do not match the specified search
    key." """
    assert search(session, "NOT", "SEEN") == [2, 3, 5]
    assert search(session, "NOT", "NOT", "SEEN") == [1, 4]
    assert search(session, "NOT", "FROM", "foobar") == others(1)


def test_search_or_matches_either_key(session, corpus):
    """RFC 9051 §6.4.4: "OR <search-key1> <search-key2> Messages that match either search
    key." """
    assert search(session, "OR", "ANSWERED", "FLAGGED") == [1, 2]
    assert search(session, "OR", "SEEN", "KEYWORD", "$Work") == [1, 2, 4]
    assert search(session, "OR", "OR", "DRAFT", "FLAGGED", "ANSWERED") == [1, 2, 3]


def test_search_multiple_keys_are_anded(session, corpus):
    """RFC 9051 §6.4.4: "When multiple keys are specified, the result is the intersection (AND
    function) of all the messages that match those keys." """
    assert search(session, "SEEN", "KEYWORD", "$Work") == [4]
    assert search(session, "UNSEEN", "SINCE", "1-Apr-2020", "1:*") == [5]
    assert search(session, "SEEN", "FLAGGED") == []


def test_search_parenthesized_keys_nest(session, corpus):
    """RFC 9051 §6.4.4: "A search key can also be a parenthesized list of one or more search
    keys (e.g., for use with the OR and NOT keys)."; search-key =/ "(" search-key *(SP
    search-key) ")" (RFC 9051 §9)."""
    assert search(session, "OR", "(SEEN KEYWORD $Work)", "(FLAGGED)") == [2, 4]
    assert search(session, "NOT", "(OR SEEN FLAGGED)") == [3, 5]
    assert search(session, "(OR ANSWERED DRAFT)", "NOT", "DELETED") == [1]
    assert search(session, "((UNSEEN) (OR (DELETED) (NOT (UNKEYWORD $Work))))") == [2, 3]


def test_search_rev1_new_and_old_follow_recent(rev1, mailbox):
    """RFC 3501 §6.4.4: "NEW Messages that have the \\Recent flag set but not the \\Seen flag.
    This is functionally equivalent to "(RECENT UNSEEN)"."; "OLD Messages that do not have the
    \\Recent flag set.  This is functionally equivalent to "NOT RECENT""; "RECENT Messages that
    have the \\Recent flag set." — and as many as SELECT's "<n> RECENT" counted."""
    box = mailbox(rev1, *CORPUS)
    recent = search(rev1, "RECENT")
    assert len(recent) == box.selected.of("RECENT")[-1].number
    assert search(rev1, "NEW") == search(rev1, "RECENT", "UNSEEN")
    assert search(rev1, "OLD") == [n for n in EVERY if n not in recent]


# --- decoding and charsets -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("SUBJECT", "Grüße aus", [3]),
        ("FROM", "Jörg Bräuer", [3]),  # ISO-8859-1 encoded-word
        ("TO", "Zoë", [3]),  # base64 ("B") encoded-word
    ],
)
def test_search_matches_decoded_rfc2047_header_text(session, corpus, key, text, expected):
    """RFC 9051 §6.4.4: "[MIME-IMB] content transfer encodings and [MIME-HDRS] strings in
    [RFC5322]/[MIME-IMB] headers MUST be decoded before comparing text."; "Servers MUST
    support US-ASCII and UTF-8 charsets"."""
    result = session.command("SEARCH", "CHARSET", "UTF-8", key, Literal(text.encode()))
    assert search_hits(result) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Geheimzahl lautet", [3]),  # base64
        ("Schöne Grüße", [3]),  # base64, UTF-8
        ("Fußball", [4]),  # quoted-printable =C3=9F
        ("Zeilenumbruch", [4]),  # quoted-printable soft line break "Zeilen=\r\numbruch"
    ],
)
def test_search_body_matches_decoded_content(session, corpus, text, expected):
    """RFC 9051 §6.4.4: "[MIME-IMB] content transfer encodings and [MIME-HDRS] strings in
    [RFC5322]/[MIME-IMB] headers MUST be decoded before comparing text." """
    result = session.command("SEARCH", "CHARSET", "UTF-8", "BODY", Literal(text.encode()))
    assert search_hits(result) == expected


def test_search_body_does_not_match_the_encoded_form(session, corpus):
    """RFC 9051 §6.4.4: content transfer encodings "MUST be decoded before comparing text": the
    base64 and quoted-printable text itself is not the body's text."""
    assert search(session, "BODY", "RGllIEdlaGVpbXphaGw") == []
    assert search(session, "BODY", quote("Fu=C3=9Fball")) == []


def test_search_charset_us_ascii_is_supported(session, corpus):
    """RFC 9051 §6.4.4: "Servers MUST support US-ASCII and UTF-8 charsets"."""
    assert search_hits(session.command("SEARCH", "CHARSET", "US-ASCII", "SUBJECT", "report")) == [2]


def test_search_unknown_charset_is_no_with_badcharset(session, corpus):
    """RFC 9051 §6.4.4: "If the server does not support the specified [CHARSET], it MUST
    return a tagged NO response (not a BAD).  This response SHOULD contain the BADCHARSET
    response code, which MAY list the CHARSETs supported by the server." """
    result = session.command("SEARCH", "CHARSET", "X-RFC9051-NO-SUCH-CHARSET", "TEXT", "a")
    assert_no(result, "BADCHARSET")
    assert_still_usable(session)


def test_search_rev2_without_charset_assumes_utf8(rev2, mailbox):
    """RFC 9051 §6.4.4: "Note that if CHARSET is not provided, IMAP4rev2 servers MUST assume
    UTF-8"; RFC 9051 §4.3: "IMAP4rev2 implementations MUST accept and MAY transmit [UTF-8]
    text in quoted-strings"."""
    mailbox(rev2, *CORPUS)
    assert search(rev2, "SUBJECT", quote("Grüße")) == [3]


# --- responses: SEARCH (IMAP4rev1) and ESEARCH (IMAP4rev2) ----------------------------------


def test_search_rev1_answers_with_one_search_response(rev1, mailbox):
    """RFC 3501 §6.4.4: "Responses: REQUIRED untagged response: SEARCH"; RFC 3501 §7.2.5:
    "The number(s) refer to those messages that match the search criteria.  For SEARCH,
    these are message sequence numbers"."""
    mailbox(rev1, *CORPUS)
    result = rev1.command("SEARCH", "SEEN")
    assert_ok(result)
    (response,) = assert_untagged(result, "SEARCH", count=1)
    assert sorted(int(n) for n in response.data) == [1, 4]
    assert_no_untagged(result, "ESEARCH")


def test_search_rev1_without_match_sends_an_empty_search_response(rev1, mailbox):
    """RFC 3501 §6.4.4: "Responses: REQUIRED untagged response: SEARCH"; RFC 3501 §7.2.5:
    "Contents: zero or more numbers"."""
    mailbox(rev1, *CORPUS)
    result = rev1.command("SEARCH", "KEYWORD", "$NeverSet")
    assert_ok(result)
    (response,) = assert_untagged(result, "SEARCH", count=1)
    assert response.data == []


def test_uid_search_rev1_returns_uids(rev1, mailbox):
    """RFC 3501 §7.2.5: "For SEARCH, these are message sequence numbers; for UID SEARCH, these
    are unique identifiers." """
    box = mailbox(rev1, *CORPUS)
    result = rev1.command("UID", "SEARCH", "SEEN")
    (response,) = assert_untagged(result, "SEARCH", count=1)
    assert sorted(int(n) for n in response.data) == [box.uids[0], box.uids[3]]


def test_search_rev2_answers_with_esearch_carrying_the_tag(rev2, mailbox):
    """RFC 9051 §6.4.4: "If no result option is specified or empty list of options is
    specified as "()", ALL is assumed"; RFC 9051 §7.3.4: "if it is present, it contains the
    tag of the command that caused the response to be returned."; "Clients that support only
    IMAP4rev2 MUST ignore SEARCH responses" (so ESEARCH it is)."""
    mailbox(rev2, *CORPUS)
    result = rev2.command("SEARCH", "SEEN")
    assert_ok(result)
    found = one_esearch(result)
    assert found.tag == result.tag and not found.uid
    assert found.all == [1, 4]
    assert_no_untagged(result, "SEARCH")


def test_search_rev2_without_match_sends_esearch_without_all(rev2, mailbox):
    """RFC 9051 §6.4.4 ALL: "If the SEARCH results in no matches, the server MUST NOT include
    the ALL result option in the ESEARCH response; however, it still MUST send the ESEARCH
    response." """
    mailbox(rev2, *CORPUS)
    result = rev2.command("SEARCH", "KEYWORD", "$NeverSet")
    assert_ok(result)
    found = one_esearch(result)
    assert found.tag == result.tag
    assert "ALL" not in found.items, result


def test_uid_search_rev2_esearch_has_the_uid_indicator(rev2, mailbox):
    """RFC 9051 §6.4.9: "the numbers returned in an ESEARCH response for a UID SEARCH command
    are unique identifiers instead of message sequence numbers.  Also, the corresponding
    ESEARCH response MUST include the UID indicator." """
    box = mailbox(rev2, *CORPUS)
    result = rev2.command("UID", "SEARCH", "SEEN")
    assert_ok(result)
    found = one_esearch(result)
    assert found.uid, result
    assert found.all == [box.uids[0], box.uids[3]]


# --- RETURN options (RFC 4731 ESEARCH for IMAP4rev1) -----------------------------------------


@pytest.fixture
def esearching(session, target, mailbox):
    """A session that may use SEARCH RETURN (IMAP4rev2 or ESEARCH), with CORPUS selected."""
    require_extension(session, target.capabilities, "ESEARCH")
    box = mailbox(session, *CORPUS)
    session.box = box
    return session


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("(MIN)", {"MIN": 2}),
        ("(MAX)", {"MAX": 5}),
        ("(COUNT)", {"COUNT": 3}),
        ("(ALL)", {"ALL": [2, 3, 5]}),
        ("(MIN MAX COUNT ALL)", {"MIN": 2, "MAX": 5, "COUNT": 3, "ALL": [2, 3, 5]}),
        ("(COUNT MIN)", {"MIN": 2, "COUNT": 3}),
        ("()", {"ALL": [2, 3, 5]}),
    ],
)
def test_search_return_options_give_one_esearch(esearching, options, expected):
    """RFC 9051 §6.4.4: "MIN Return the lowest message number/UID that satisfies the SEARCH
    criteria."; "MAX ... the highest"; "ALL Return all message numbers/UIDs that satisfy the
    SEARCH criteria using the sequence-set syntax."; "COUNT Return the number of messages that
    satisfy the SEARCH criteria."; "If no result option is specified or empty list of options
    is specified as "()", ALL is assumed"; "all options specified above MUST result in a
    single ESEARCH response" (RFC 4731 §3.1)."""
    result = esearching.command("SEARCH", "RETURN", options, "UNSEEN")
    assert_ok(result)
    found = one_esearch(result)
    assert found.tag == result.tag
    items = {k: v for k, v in found.items.items() if k in ("MIN", "MAX", "COUNT", "ALL")}
    assert items == expected, result
    assert_no_untagged(result, "SEARCH")


def test_search_return_without_match_sends_only_count(esearching):
    """RFC 9051 §6.4.4: MIN/MAX/ALL: "If the SEARCH results in no matches, the server MUST NOT
    include the [...] result option in the ESEARCH response; however, it still MUST send the
    ESEARCH response."; "COUNT [...] This result option MUST always be included in the ESEARCH
    response." """
    result = esearching.command("SEARCH", "RETURN", "(MIN MAX ALL COUNT)", "KEYWORD", "$Never")
    assert_ok(result)
    found = one_esearch(result)
    assert found.items == {"COUNT": 0}, result


def test_uid_search_return_gives_uids_with_uid_indicator(esearching):
    """RFC 9051 §6.4.4: "if the ESEARCH UID indicator is present, all data in the ESEARCH
    response is referring to UIDs; for example, the MIN result specifier will be followed by a
    UID." (RFC 4731 §3.1: "An extended UID SEARCH command MUST cause an ESEARCH response with
    the UID indicator present.")"""
    uids = esearching.box.uids
    result = esearching.command("UID", "SEARCH", "RETURN", "(MIN MAX ALL)", "UNSEEN")
    assert_ok(result)
    found = one_esearch(result)
    assert found.uid, result
    assert (found.items["MIN"], found.items["MAX"]) == (uids[1], uids[4])
    assert found.all == [uids[1], uids[2], uids[4]]


def test_search_return_unknown_option_is_bad(esearching):
    """RFC 9051 §6.4.4: "Any options not defined by extensions that the server supports MUST
    be rejected with a BAD response." """
    assert_bad(esearching.command("SEARCH", "RETURN", "(X-RFC9051-UNKNOWN)", "ALL"))
    assert_still_usable(esearching)


# --- SAVE and "$" (RFC 5182 SEARCHRES for IMAP4rev1) ----------------------------------------


@pytest.fixture
def saving(session, target, mailbox):
    """A session that may use RETURN (SAVE) and "$" (IMAP4rev2 or SEARCHRES), CORPUS
    selected."""
    require_extension(session, target.capabilities, "SEARCHRES")
    session.box = mailbox(session, *CORPUS)
    return session


def fetched_uids(client, *command) -> dict[int, int]:
    result = client.command(*command)
    assert_ok(result)
    return {n: int(items["UID"]) for n, items in fetched(result).items()}


def test_search_save_alone_sends_no_esearch_and_sets_dollar(saving):
    """RFC 9051 §6.4.4 SAVE: "In absence of any other SEARCH result option, the SAVE result
    option also suppresses any ESEARCH response that would have been otherwise returned by the
    SEARCH command."; "The "$" marker can be used instead of message sequence or UID sequence
    in order to indicate that the server should substitute it with the list of messages from
    the search result variable." """
    result = saving.command("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$Work")
    assert_ok(result)
    assert_no_untagged(result, "ESEARCH")
    assert_no_untagged(result, "SEARCH")
    uids = saving.box.uids
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {2: uids[1], 4: uids[3]}


def test_search_dollar_is_empty_after_select(saving):
    """RFC 9051 §6.4.4.1: "Upon successful completion of a SELECT or an EXAMINE command (after
    the tagged OK response), the current search result variable is reset to the empty
    sequence."; "the "FETCH $" command would return a tagged OK response and no FETCH
    responses." """
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "ALL"))
    assert_ok(saving.select(saving.box.name))
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {}


def test_search_save_with_min_keeps_only_the_minimum(saving):
    """RFC 9051 §6.4.4.1: "When the SAVE result option is combined with the MIN or MAX result
    option, and both ALL and COUNT result options are absent, the corresponding MIN/MAX is
    returned (if the search result is not empty), but the "$" marker would contain a single
    message as returned in the MIN/MAX return item." """
    result = saving.command("SEARCH", "RETURN", "(SAVE MIN)", "UNSEEN")
    assert_ok(result)
    assert one_esearch(result).items.get("MIN") == 2
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {2: saving.box.uids[1]}


def test_search_save_with_all_keeps_every_match(saving):
    """RFC 9051 §6.4.4.1: "If the SAVE result option is combined with the ALL and/or COUNT
    result option(s), the "$" marker would always contain all messages found by the SEARCH or
    UID SEARCH command." """
    result = saving.command("SEARCH", "RETURN", "(SAVE MIN COUNT)", "UNSEEN")
    assert_ok(result)
    assert one_esearch(result).items.get("COUNT") == 3
    assert sorted(fetched_uids(saving, "FETCH", "$", "(UID)")) == [2, 3, 5]


def test_search_dollar_maps_between_uids_and_sequence_numbers(saving):
    """RFC 9051 §6.4.4.1: "the "$" marker can be set as a result of a SEARCH (SAVE) command and
    used as a parameter to a UID FETCH command (which accepts a UID sequence, not a message
    sequence), or [...] set as a result of a UID SEARCH (SAVE) command and used as a parameter
    to a FETCH command [...].  Server implementations need to automatically map the "$" marker
    value to message numbers or UIDs"."""
    uids = saving.box.uids
    assert_ok(saving.command("UID", "SEARCH", "RETURN", "(SAVE)", "FLAGGED"))
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {2: uids[1]}
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "DRAFT"))
    assert fetched_uids(saving, "UID", "FETCH", "$", "(UID)") == {3: uids[2]}


def test_search_dollar_in_search_criteria(saving):
    """RFC 9051 §9: sequence-set =/ seq-last-command ("$"); search-key =/ sequence-set — the
    saved result can be narrowed by another SEARCH."""
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$Work"))
    assert search(saving, "$", "SEEN") == [4]


def test_search_dollar_loses_expunged_messages(saving):
    """RFC 9051 §6.4.4.1: "When a message listed in the search result variable is EXPUNGEd, it
    is automatically removed from the list.  Implementors are reminded that if the server
    stores the list as a list of message numbers, it MUST automatically adjust them when
    notifying the client about expunged messages"."""
    uids = saving.box.uids
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "UNSEEN"))  # 2, 3 (\Deleted), 5
    assert_ok(saving.command("EXPUNGE"))  # removes 3; 4 and 5 become 3 and 4
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {2: uids[1], 4: uids[4]}


def test_search_dollar_works_in_store_and_copy(saving, names):
    """RFC 9051 §6.4.4.1: "Note that even if the "$" marker contains the empty sequence of
    messages, it must be treated by all commands accepting message sets as parameters as a
    valid, but non-matching, list of messages."; RFC 5182 §1: "$" can be used "as a parameter to
    another command" (STORE, COPY)."""
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$Work"))
    assert_ok(saving.command("STORE", "$", "+FLAGS.SILENT", "(\\Answered)"))
    assert search(saving, "ANSWERED") == [1, 2, 4]
    destination = names.created(saving)
    assert_ok(saving.command("COPY", "$", quote(destination)))
    assert message_count(saving, destination) == 2
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "KEYWORD", "$NeverSet"))
    result = saving.command("STORE", "$", "+FLAGS", "(\\Flagged)")
    assert_ok(result)
    assert not result.of("FETCH"), result


def test_search_save_may_be_pipelined_with_dollar(saving):
    """RFC 9051 §6.4.4.2: "A client MAY pipeline a SEARCH RETURN (SAVE) command with one or more
    commands using the "$" marker"; "Use of a SEARCH RETURN (SAVE) command followed by a command
    using the "$" marker creates direct dependency between the two commands.  As directed by
    Section 5.5, a server MUST execute the two commands in the order they were received." """
    search_tag, _ = saving.send_command("SEARCH", "RETURN", "(SAVE)", "DRAFT")
    fetch_tag, _ = saving.send_command("FETCH", "$", "(UID)")
    assert_ok(saving.read_until_tagged(search_tag))
    result = saving.read_until_tagged(fetch_tag)
    assert_ok(result)
    assert {n: int(v["UID"]) for n, v in fetched(result).items()} == {3: saving.box.uids[2]}


def test_failed_search_does_not_change_dollar(saving):
    """RFC 9051 §6.4.4.1: "Any of the following SEARCH commands MUST NOT change the search
    result variable: a SEARCH command that caused the server to return the BAD tagged
    response, [...] a successful SEARCH command with no SAVE result option." """
    assert_ok(saving.command("SEARCH", "RETURN", "(SAVE)", "FLAGGED"))
    assert_bad(saving.command("SEARCH", "RETURN", "(SAVE)", "X-RFC9051-NO-SUCH-KEY"))
    assert_ok(saving.command("SEARCH", "SEEN"))
    assert fetched_uids(saving, "FETCH", "$", "(UID)") == {2: saving.box.uids[1]}


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "criteria",
    [("X-RFC9051-NO-SUCH-KEY",), ("FROM",), ("BEFORE", "yesterday"), ("OR", "SEEN"), ("(SEEN",)],
    ids=["unknown-key", "missing-string", "bad-date", "or-one-key", "unbalanced"],
)
def test_search_with_invalid_criteria_is_bad(session, corpus, criteria):
    """RFC 9051 §6.4.4: "BAD - command unknown or arguments invalid" (search-key, RFC 9051
    §9)."""
    assert_bad(session.command("SEARCH", *criteria))
    assert_still_usable(session)


def test_search_without_selected_mailbox_is_bad(session):
    """RFC 9051 §6.4: SEARCH is one of the commands "valid in the selected state"."""
    assert_bad(session.command("SEARCH", "ALL"))
    assert_still_usable(session)


def test_search_for_a_sequence_number_past_exists_is_not_bad(session, corpus):
    """RFC 9051 §6.4.4: `<sequence set>` matches "Messages with message sequence numbers
    corresponding to the specified message sequence number set"; a number past EXISTS names
    no message, so nothing matches it. The RFC leaves BAD or an empty OK open; Dovecot (and
    clients such as imapclient and imaptest's esearch script) take the empty OK."""
    count = len(EVERY)
    assert search(session, str(count + 1000)) == []
    assert search(session, f"{count}:{count + 1000}") == [count]
    assert search(session, "OR", str(count + 1000), "1") == [1]
