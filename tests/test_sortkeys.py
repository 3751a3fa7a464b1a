"""The keys IMAP SORT orders by (elektromail.sortkeys): the base subject of RFC 5256 §2.1,
i;unicode-casemap (RFC 5051), the address keys of RFC 5256 §3 and RFC 5957, the sent date."""

from __future__ import annotations

import pytest

from elektromail import mime
from elektromail.sortkeys import (
    base_subject,
    base_subject_and_reply,
    casemap,
    message_ids,
    sent_time,
    sort_fields,
    thread_references,
)


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        # "(1) Convert any RFC 2047 encoded-words in the subject to [UTF-8] ... Convert all
        # tabs and continuations to space. Convert all multiple spaces to a single space."
        ("=?utf-8?q?M=C3=A4rz?=", casemap("MÄRZ")),
        ("a\t \tb", "A B"),
        # "(2) Remove all trailing text of the subject that matches the subj-trailer ABNF;
        # repeat until no more matches are possible." subj-trailer = "(fwd)" / WSP
        ("b (fwd)", "B"),
        ("b (fWd)  (FWD) ", "B"),
        # "(3) Remove all prefix text of the subject that matches the subj-leader ABNF."
        ("Re: b", "B"),
        ("RE:b", "B"),
        ("fw: b", "B"),
        ("Fwd: b", "B"),
        ("re [list]: b", "B"),
        ("[list] Re: b", "B"),
        ("Ad: b", "AD: B"),  # not a subj-refwd
        ("Reply: b", "REPLY: B"),
        # "(4) If there is prefix text of the subject that matches the subj-blob ABNF, and
        # removing that prefix leaves a non-empty subj-base, then remove the prefix text."
        ("[xyz] b", "B"),
        ("[xyz]", "[XYZ]"),
        # "(5) Repeat (3) and (4) until no matches remain."
        ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "B"),
        ("Re: Re: Re: b", "B"),
        # "(6) If the resulting text begins with the subj-fwd-hdr ABNF and ends with the
        # subj-fwd-trl ABNF, remove the subj-fwd-hdr and subj-fwd-trl and repeat from step (2)."
        ("[fwd: b]", "B"),
        ("Re: [FWD: c]", "C"),
        ("re: [fwd: [fwd: re: [fwd: babylon]]]", "BABYLON"),
        ("=?iso-8859-1?q?RE:_C?=", "C"),  # the leader may hide in an encoded-word
        ("=?iso-8859-1?q?_?=", ""),
        (None, ""),
        ("", ""),
    ],
)
def test_base_subject_follows_rfc5256_section_2_1(subject, base):
    assert base_subject(subject) == base


def test_casemap_is_titlecase_then_compatibility_decomposition():
    """RFC 5051 §2: the titlecase mapping of each character, then NFKD; ASCII is upper case."""
    assert casemap("abc Def") == "ABC DEF"
    assert casemap("é") == "E\u0301"  # titlecase É, decomposed
    assert casemap("ﬁ") == "fi"  # no one-character titlecase; NFKD splits the ligature
    assert casemap("ß") == "ß"  # the simple mapping: no one-character titlecase
    # equal strings under the comparator compare equal as bytes
    assert casemap("Straße").encode() == casemap("STRAßE").encode()


def envelope(header: bytes) -> mime.Envelope:
    return mime.parse(header + b"\r\n\r\nbody\r\n").envelope


def test_address_keys_are_the_first_mailbox_of_the_first_field():
    """RFC 5256 §3: "FROM: [IMAP] addr-mailbox of the first "From" address" (TO and CC alike)."""
    fields = sort_fields(
        envelope(b'From: Zed <zed@b.example>, amy@a.example\r\nTo: t@x\r\nCc: "C" <cc@y>')
    )
    assert (fields.from_, fields.to, fields.cc) == ("ZED", "T", "CC")
    assert sort_fields(envelope(b"Subject: none")).from_ == ""


@pytest.mark.parametrize(
    ("header", "display"),
    [
        (b"From: Zed Zebra <zed@b.example>", "ZED ZEBRA"),
        (b"From: =?utf-8?q?J=C3=B6rg?= <j@x>", casemap("Jörg")),
        # RFC 5957 §2: "If the first address has no display-name, the mailbox and host
        # (addr-mailbox "@" addr-host) are used" (Dovecot's reading)
        (b"From: amy@a.example", "AMY@A.EXAMPLE"),
        (b"Subject: none", ""),
    ],
)
def test_display_from_is_the_decoded_name_or_the_address(header, display):
    assert sort_fields(envelope(header)).display_from == display


def test_sent_time_is_utc_seconds_and_none_when_it_cannot_be_read():
    """RFC 5256 §2.2: "If the sent date cannot be determined (a Date: header is missing or
    cannot be parsed), the INTERNALDATE for that message is used as the sent date.\""""
    assert sent_time("Fri, 22 Feb 2008 02:00:00 +0200") == 1203638400
    assert sent_time("Fri, 22 Feb 2008 00:00:00 +0000") == 1203638400
    assert sent_time("not a date") is None
    assert sent_time(None) is None
    assert sent_time("Thu, 1 Jan 1970 00:00:00 +0000") is None  # 0: as Dovecot, unknown


@pytest.mark.parametrize(
    ("subject", "reply"),
    [
        # RFC 5256 §3: "A message is considered to be a reply or forward if the base subject
        # extraction rules, applied to the original subject, remove any of the following: a
        # subj-refwd, a "(fwd)" subj-trailer, or a subj-fwd-hdr and subj-fwd-trl."
        ("Re: lunch", True),
        ("lunch (fwd)", True),
        ("[fwd: lunch]", True),
        ("Fw: lunch", True),
        ("[list] lunch", False),  # a blob alone is not a reply
        ("  lunch  ", False),
        ("lunch", False),
        (None, False),
    ],
)
def test_the_reply_or_forward_mark(subject, reply):
    assert base_subject_and_reply(subject)[1] is reply


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("<a@b>", ["a@b"]),
        # RFC 5256 §3: "<"01KF8JCEOCBS0045PS"@xxx.yyy.com> and <01KF8JCEOCBS0045PS@xxx.yyy.com>
        # MUST be interpreted as being the same Message ID"
        ('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>', ["01KF8JCEOCBS0045PS@xxx.yyy.com"]),
        ("<01KF8JCEOCBS0045PS@xxx.yyy.com>", ["01KF8JCEOCBS0045PS@xxx.yyy.com"]),
        ("<a@b> <c@d>\t<e@f>", ["a@b", "c@d", "e@f"]),
        ("<a @ b>", ["a@b"]),  # white space inside is dropped, as Dovecot does
        ("<a(comment)@b>", ["a@b"]),
        ("<no-at-sign> <x@y>", ["x@y"]),
        ("<a@[127.0.0.1]>", ["a@[127.0.0.1]"]),
        ("<a@b", []),
        ('<"unclosed@b>', []),
        ("junk", []),
        ("", []),
        (None, []),
    ],
)
def test_message_ids_are_found_and_normalized(value, ids):
    assert message_ids(value) == ids


def test_references_are_the_references_field_else_the_first_in_reply_to():
    """RFC 5256 §3: "If a message contains a References header line, then use the Message IDs
    in the References header line"; otherwise "use the first (if any) valid Message ID found
    in the In-Reply-To header line as the only reference"."""
    assert thread_references("<a@x> <b@x>", "<c@x>") == ("a@x", "b@x")
    assert thread_references("no ids here", "<c@x> <d@x>") == ("c@x",)
    assert thread_references(None, "Your message of Monday <c@x>") == ("c@x",)
    assert thread_references(None, None) == ()


def test_sort_fields_read_the_first_of_each_threading_field():
    raw = (
        b"Message-ID: <me@x>\r\nMessage-ID: <second@x>\r\nReferences: <a@x>\r\n <b@x>\r\n"
        b"References: <other@x>\r\nIn-Reply-To: <c@x>\r\nSubject: Re: hello\r\n\r\nbody\r\n"
    )
    parsed = mime.parse(raw)
    fields = sort_fields(parsed.envelope, raw[: parsed.header_end])
    assert (fields.message_id, fields.references) == ("me@x", ("a@x", "b@x"))
    assert (fields.subject, fields.reply) == ("HELLO", True)
