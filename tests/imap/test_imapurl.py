"""IMAP URLs (RFC 5092) as CATENATE takes them (RFC 4469 §3): pure parsing, no server."""

from __future__ import annotations

import pytest

from elektromail.imap.imapurl import BadUrl, ImapUrl, parse_message_url, url_for_response


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/INBOX/;UID=5", ImapUrl("INBOX", None, 5)),
        ("/inbox/;uid=5", ImapUrl("INBOX", None, 5)),
        ("/INBOX;UIDVALIDITY=385759045/;UID=20", ImapUrl("INBOX", 385759045, 20)),
        (
            "/Drafts;UIDVALIDITY=3/;UID=2/;SECTION=1.2.MIME",
            ImapUrl("Drafts", 3, 2, "1.2.MIME"),
        ),
        (
            "/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(FROM%20TO)",
            ImapUrl("INBOX", None, 1, "HEADER.FIELDS (FROM TO)"),
        ),
        ("/INBOX/;UID=1/;PARTIAL=100000.1", ImapUrl("INBOX", None, 1, None, (100000, 1))),
        ("/INBOX/;UID=1/;SECTION=TEXT/;PARTIAL=5", ImapUrl("INBOX", None, 1, "TEXT", (5, None))),
        ("/a%20b/c/;UID=1", ImapUrl("a b/c", None, 1)),
        ("/Gr%C3%BC%C3%9Fe/;UID=1", ImapUrl("Grüße", None, 1)),
        (";UID=7", ImapUrl(None, None, 7)),
        (";UID=7/;SECTION=2", ImapUrl(None, None, 7, "2")),
        ("imap://user@example.org/INBOX/;UID=3", ImapUrl("INBOX", None, 3)),
        ("IMAP://user;AUTH=*@localhost:143/INBOX/;UID=3", ImapUrl("INBOX", None, 3)),
        ("//user@localhost/INBOX/;UID=3", ImapUrl("INBOX", None, 3)),
    ],
    ids=[
        "absolute-path",
        "keywords-any-case",
        "uidvalidity",
        "section-mime",
        "section-percent-encoded",
        "partial",
        "section-and-partial",
        "hierarchy-and-space",
        "utf8-name",
        "relative-to-selected",
        "relative-with-section",
        "imap-url-of-this-user",
        "imap-url-with-auth",
        "network-path",
    ],
)
def test_a_message_url_is_parsed(text, expected):
    """RFC 5092 §6 (the URL forms) and §7 (references relative to the selected mailbox, the
    base URL of RFC 4469 §3)."""
    assert parse_message_url(text, "user") == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("imap://bob@example.org/INBOX/;UID=3", "Invalid IMAP URL: not this user's message"),
        ("imap://example.org/INBOX/;UID=3", "Invalid IMAP URL: the user must be given"),
        ("imap://user@example.org", "Invalid IMAP URL: no message given"),
        ("/INBOX/;UID=1;URLAUTH=anonymous:internal:0123", "URLAUTH is not supported"),
        ("/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z", "URLAUTH is not supported"),
        ("/INBOX", "Invalid IMAP URL: no UID given"),
        ("/INBOX/;UID=0", "Invalid IMAP URL: invalid UID"),
        ("/INBOX/;UID=4294967296", "Invalid IMAP URL: invalid UID"),
        ("/INBOX/;UID=x", "Invalid IMAP URL: invalid UID"),
        ("/INBOX;UIDVALIDITY=0/;UID=1", "Invalid IMAP URL: invalid UIDVALIDITY"),
        ("/INBOX;UID=1", "Invalid IMAP URL: expected /;UID="),
        ("/INBOX/;SECTION=1", "Invalid IMAP URL: expected ;UID="),
        ("/INBOX/;UID=1/;PARTIAL=1.0", "Invalid IMAP URL: invalid PARTIAL"),
        ("/INBOX/;UID=1/;BOGUS=1", "Invalid IMAP URL: unexpected ;BOGUS=1"),
        ("/;UID=1", "Invalid IMAP URL: no mailbox given"),
        ("/%FF/;UID=1", "Invalid IMAP URL: mailbox name is not UTF-8"),
        ("INBOX/;UID=1", "Invalid IMAP URL"),
        ("", "Invalid IMAP URL"),
    ],
    ids=[
        "another-user",
        "anonymous",
        "no-path",
        "urlauth",
        "expire",
        "no-uid",
        "uid-zero",
        "uid-too-big",
        "uid-not-a-number",
        "uidvalidity-zero",
        "uid-without-slash",
        "section-without-uid",
        "partial-length-zero",
        "unknown-parameter",
        "empty-mailbox",
        "not-utf8",
        "no-leading-slash",
        "empty",
    ],
)
def test_a_url_that_names_no_message_of_this_user_is_refused(text, reason):
    """RFC 4469 §4.1: BADURL for "invalid syntax, unrecognized URL schema, invalid message UID,
    or invalid body part"; and we have no URLAUTH (RFC 4467)."""
    with pytest.raises(BadUrl) as refused:
        parse_message_url(text, "user")
    assert str(refused.value) == reason


def test_the_url_in_badurl_never_breaks_the_response_code():
    """RFC 4469 §5: url-resp-text is TEXT-CHAR except "]"."""
    assert url_for_response("/a]b/;UID=1 x\x7fü") == "/a%5Db/;UID=1 x%7F%C3%BC"
