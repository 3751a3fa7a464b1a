"""List-Unsubscribe (RFC 2369) and one-click unsubscription (RFC 8058), whose §4 requires a
DKIM signature covering both fields."""

from __future__ import annotations

from elektromail.checks import dkim, unsubscribe
from elektromail.checks.keys import KeyRing
from elektromail.checks.message import Message
from tests.checks.conftest import ids, message, sign

BULK = b"List-Id: News <news.example.com>\r\n"
UNSUB = b"List-Unsubscribe: <https://example.com/u/1>, <mailto:u@example.com?subject=u>\r\n"
POST = b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
COVERED = (b"from", b"to", b"subject", b"date", b"list-unsubscribe", b"list-unsubscribe-post")


def check(raw: bytes, ring: KeyRing | None = None):
    msg = Message(raw)
    return unsubscribe.check(msg, dkim.verify(msg, ring or KeyRing()))


def test_bulk_mail_without_list_unsubscribe_is_a_warning():
    """RFC 2369 §3.2; bulk-looking: List-Id, Precedence: bulk, or an unsubscribe link."""
    assert ids(check(message(BULK))) == ["list-unsubscribe.missing"]
    assert "list-unsubscribe.missing" in ids(check(message(b"Precedence: bulk\r\n")))
    assert "list-unsubscribe.missing" in ids(check(message(body=b"Click to unsubscribe\r\n")))


def test_personal_mail_without_it_is_fine():
    assert ids(check(message())) == ["list-unsubscribe.not-bulk"]


def test_a_uri_outside_angle_brackets_is_malformed():
    """RFC 2369 §2: each URI in angle brackets."""
    found = check(message(b"List-Unsubscribe: https://example.com/u\r\n"))
    assert "list-unsubscribe.malformed" in ids(found)


def test_one_click_signed_by_a_verifying_signature_passes(ring):
    raw = sign(message(BULK + UNSUB + POST), headers=COVERED)
    found = check(raw, ring)
    assert "list-unsubscribe.one-click" in ids(found)
    assert not [f for f in found if f.severity != "info"]


def test_one_click_not_covered_by_the_signature_is_an_error(ring):
    """RFC 8058 §4: the signature's h= covers List-Unsubscribe and List-Unsubscribe-Post."""
    raw = sign(message(BULK + UNSUB + POST))  # h= without the list fields
    assert "list-unsubscribe.not-signed" in ids(check(raw, ring))
    assert "list-unsubscribe.not-signed" in ids(check(message(BULK + UNSUB + POST)))


def test_one_click_with_an_unknown_key_cannot_be_verified():
    raw = sign(message(BULK + UNSUB + POST), headers=COVERED)
    assert "list-unsubscribe.signature-unverified" in ids(check(raw))


def test_one_click_signed_but_tampered_is_an_error(ring):
    raw = sign(message(BULK + UNSUB + POST), headers=COVERED).replace(b"/u/1", b"/u/2")
    assert "list-unsubscribe.not-signed" in ids(check(raw, ring))


def test_one_click_needs_an_https_uri():
    """RFC 8058 §3.1: List-Unsubscribe holds one HTTPS URI."""
    raw = message(BULK + b"List-Unsubscribe: <mailto:u@example.com>\r\n" + POST)
    assert "list-unsubscribe.post-without-https" in ids(check(raw))
    http = message(BULK + b"List-Unsubscribe: <http://example.com/u>\r\n")
    assert "list-unsubscribe.http" in ids(check(http))


def test_a_wrong_post_value_is_an_error():
    raw = message(BULK + UNSUB + b"List-Unsubscribe-Post: yes please\r\n")
    assert "list-unsubscribe.post-malformed" in ids(check(raw))


def test_bulk_mail_without_one_click_is_a_warning():
    assert "list-unsubscribe.no-one-click" in ids(check(message(BULK + UNSUB)))


def test_post_without_list_unsubscribe_is_an_error():
    assert "list-unsubscribe.post-without-header" in ids(check(message(POST)))
