"""Header lint, each rule with a message that passes and one that fails, and the RFC text the
rule comes from."""

from __future__ import annotations

import pytest

from elektromail.checks import headers
from elektromail.checks.message import Message, Transaction
from tests.checks.conftest import GOOD_HEADER, ids, message


def lint(raw: bytes, transaction: Transaction | None = None):
    return headers.check(Message(raw, transaction))


def test_a_well_formed_message_has_no_header_findings():
    assert lint(message()) == []


@pytest.mark.parametrize(
    ("drop", "expected", "severity"),
    [
        (b"Date", "headers.no-date", "error"),  # RFC 5322 §3.6.1: required
        (b"From", "headers.no-from", "error"),  # RFC 5322 §3.6.2: required
        (b"Message-ID", "headers.no-message-id", "warning"),  # RFC 5322 §3.6.4: SHOULD
    ],
)
def test_a_missing_required_field_is_found(drop, expected, severity):
    header = b"".join(
        line + b"\r\n"
        for line in GOOD_HEADER.split(b"\r\n")
        if line and not line.startswith(drop + b":")
    )
    found = [f for f in lint(message(header=header)) if f.id == expected]
    assert [f.severity for f in found] == [severity]


def test_a_bare_lf_is_found_with_its_line():
    """RFC 5322 §2.1: lines end in CRLF; a bare LF is refused by many MTAs."""
    raw = GOOD_HEADER + b"\r\nline one\nline two\r\n"
    [found] = [f for f in lint(raw) if f.id == "headers.bare-lf"]
    assert found.severity == "error" and found.where["line"] == 7


def test_a_bare_cr_is_found():
    raw = GOOD_HEADER + b"\r\nline one\rline two\r\n"
    assert "headers.bare-cr" in ids(lint(raw))
    assert "headers.bare-lf" not in ids(lint(raw))


def test_a_line_over_998_octets_is_an_error_and_998_is_not():
    """RFC 5322 §2.1.1: "Each line ... MUST be no more than 998 characters"."""
    assert "headers.line-too-long" not in ids(lint(message(body=b"x" * 998 + b"\r\n")))
    [found] = [
        f for f in lint(message(body=b"x" * 999 + b"\r\n")) if f.id == "headers.line-too-long"
    ]
    assert found.where["line"] == 7 and "999 octets" in found.message


def test_many_long_lines_give_a_bounded_number_of_findings():
    body = (b"y" * 1000 + b"\r\n") * 500
    found = [f for f in lint(message(body=body)) if f.id == "headers.line-too-long"]
    assert len(found) == headers.MAX_REPORTED + 1
    assert "480 more" in found[-1].message


def test_8bit_body_without_8bit_transfer_encoding_is_flagged_when_the_transaction_is_unknown():
    """RFC 2045 §6.2 and RFC 6152: 8-bit data is declared; the store does not keep BODY=."""
    raw = message(body="Grüße\r\n".encode())
    [found] = [f for f in lint(raw) if f.id == "headers.8bit-undeclared"]
    assert found.severity == "warning" and "it has no SMTP transcript" in found.message
    declared = message(
        b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n", "Grüße\r\n".encode()
    )
    assert "headers.8bit-undeclared" not in ids(lint(declared))


def test_8bit_body_without_8bitmime_in_the_transaction_is_an_error():
    raw = message(b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n", "Grüße\r\n".encode())
    assert "headers.8bit-without-8bitmime" in ids(lint(raw, Transaction(body=None)))
    assert "headers.8bit-without-8bitmime" not in ids(lint(raw, Transaction(body="8BITMIME")))
    # RFC 3030 §3: BINARYMIME (sent with BDAT) allows 8-bit data as 8BITMIME does
    assert "headers.8bit-without-8bitmime" not in ids(lint(raw, Transaction(body="BINARYMIME")))


def test_a_non_ascii_header_is_flagged_unless_smtputf8():
    """RFC 6532 §3 / RFC 2047: raw UTF-8 in a header needs SMTPUTF8, else encoded-words."""
    raw = message("Comments: Grüße\r\n".encode())
    assert "headers.non-ascii" in ids(lint(raw))
    assert "headers.non-ascii" not in ids(lint(raw, Transaction(smtputf8=True)))
    encoded = message(b"Comments: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n")
    assert "headers.non-ascii" not in ids(lint(encoded))


def test_a_bcc_header_left_in_is_a_warning():
    """RFC 5322 §3.6.3: Bcc recipients are not disclosed to the others."""
    [found] = [
        f for f in lint(message(b"Bcc: carol@example.net\r\n")) if f.id == "headers.bcc-present"
    ]
    assert found.where == {"header": "Bcc", "line": 6}
    assert "headers.bcc-present" not in ids(lint(message(b"Bcc:\r\n")))


@pytest.mark.parametrize(
    "value",
    [b"not an address", b"bob@", b"<@example.org>", b"Bob <bob@example.org", b"a@b.c, , ,junk"],
)
def test_a_malformed_address_is_an_error(value):
    """RFC 5322 §3.4: address lists of mailboxes and groups."""
    raw = message(b"Reply-To: " + value + b"\r\n")
    [found] = [f for f in lint(raw) if f.id == "headers.malformed-address"]
    assert found.where["header"] == "Reply-To"


@pytest.mark.parametrize(
    "value",
    [
        b"bob@example.org",
        b'"Bob, B." <bob@example.org>',
        b"undisclosed-recipients:;",
        b"a@b.c, d@e.f",
    ],
)
def test_well_formed_addresses_pass(value):
    assert "headers.malformed-address" not in ids(lint(message(b"Cc: " + value + b"\r\n")))


def test_a_duplicate_single_instance_field_is_an_error():
    """RFC 5322 §3.6: Subject (and ten other fields) occur at most once."""
    [found] = [f for f in lint(message(b"Subject: again\r\n")) if f.id == "headers.duplicate"]
    assert found.where == {"header": "Subject", "line": 6}
    assert "headers.duplicate" not in ids(lint(message(b"Received: x\r\nReceived: y\r\n")))


def test_several_authors_without_sender_is_an_error():
    """RFC 5322 §3.6.2: more than one mailbox in From needs a Sender."""
    header = GOOD_HEADER.replace(
        b"From: Alice <alice@example.com>", b"From: a@example.com, b@example.com"
    )
    assert "headers.no-sender" in ids(lint(message(header=header)))
    assert "headers.no-sender" not in ids(
        lint(message(b"Sender: a@example.com\r\n", header=header))
    )


def test_content_type_without_mime_version_is_a_warning():
    """RFC 2045 §4: MIME-Version: 1.0 goes with the MIME fields."""
    assert "headers.no-mime-version" in ids(lint(message(b"Content-Type: text/plain\r\n")))
    ok = message(b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n")
    assert "headers.no-mime-version" not in ids(lint(ok))


def test_a_multipart_without_boundary_is_an_error():
    """RFC 2046 §5.1.1: the boundary parameter is required."""
    raw = message(
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n", b"--x\r\n\r\na\r\n--x--\r\n"
    )
    assert "headers.multipart-no-boundary" in ids(lint(raw))
    lost = message(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="y"\r\n', b"a\r\n"
    )
    assert "headers.multipart-boundary-missing" in ids(lint(lost))
    good = message(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n',
        b"--x\r\n\r\na\r\n--x--\r\n",
    )
    assert lint(good) == []


def test_a_header_line_that_is_no_field_is_an_error():
    """RFC 5322 §2.2: a header field is a name, a colon and a body."""
    assert "headers.not-a-field" in ids(lint(message(b"this is no header\r\n")))


def test_parts_are_numbered_as_imap_numbers_them():
    """RFC 9051 §6.4.5: 1, 2, 2.1 inside an attached message, and so on."""
    inner = (
        b'Content-Type: multipart/alternative; boundary="i"\r\n\r\n'
        b"--i\r\n\r\na\r\n--i\r\n\r\nb\r\n--i--\r\n"
    )
    raw = message(
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="o"\r\n',
        b"--o\r\n\r\ntext\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n"
        + inner
        + b"\r\n--o--\r\n",
    )
    numbers = [n for n, _ in Message(raw).parts()]
    assert numbers == ["", "1", "2", "2.1", "2.2"]
    assert [n for n, _ in Message(message()).parts()] == ["1"]


def test_the_check_data_is_declared_package_data():
    from pathlib import Path

    setup = (Path(__file__).resolve().parents[2] / "setup.cfg").read_text()
    assert "elektromail.checks = data/*" in setup


BINARY = b"MIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
BINARY += b"Content-Transfer-Encoding: binary\r\n"


@pytest.mark.parametrize("body", [None, "7BIT", "8BITMIME"])
def test_a_binary_part_without_binarymime_in_the_transaction_is_an_error(body):
    """RFC 3030 §3: a binary MIME message goes over SMTP only with BODY=BINARYMIME (and BDAT);
    8BITMIME does not cover it (RFC 6152 §3 keeps 8-bit data in lines)."""
    raw = message(BINARY, b"\x01\xff\rbare CR\nbare LF\x80")
    [found] = [
        f for f in lint(raw, Transaction(body=body)) if f.id == "headers.binary-without-binarymime"
    ]
    assert found.severity == "error" and found.where == {"part": "1"}
    assert "BODY=BINARYMIME" in found.message and "RFC 3030 §3" in found.message
    assert ("no BODY=" if body is None else f"BODY={body}") in found.message


def test_binarymime_lets_a_binary_part_pass():
    raw = message(BINARY, b"\x01\xff\rbare CR\nbare LF\x80")
    found = ids(lint(raw, Transaction(body="BINARYMIME")))
    assert "headers.binary-without-binarymime" not in found
    assert "headers.8bit-without-8bitmime" not in found and "headers.8bit-undeclared" not in found


def test_a_binary_part_of_an_unknown_transaction_is_not_judged():
    # IMAP APPEND and the HTTP API may store binary messages; only SMTP needs BINARYMIME
    raw = message(BINARY, b"\x01\xff")
    assert "headers.binary-without-binarymime" not in ids(lint(raw))


def test_binary_parts_of_a_multipart_are_named_in_one_finding():
    header = (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
        b"Content-Transfer-Encoding: binary\r\n"
    )
    part = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: %s\r\n\r\n%s\r\n"
    body = (
        b"--b\r\n"
        + part % (b"binary", b"\xff\x00")
        + b"--b\r\n"
        + part % (b"base64", b"AAAA")
        + b"--b\r\n"
        + part % (b"BINARY", b"\x80")
        + b"--b--\r\n"
    )
    [found] = [
        f
        for f in lint(message(header, body), Transaction(body="8BITMIME"))
        if f.id == "headers.binary-without-binarymime"
    ]
    assert "parts (the message), 1, 3 declare" in found.message and found.where == {}


def test_a_part_merely_mentioning_binary_is_not_binary():
    raw = message(b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n", b"YmluYXJ5\r\n")
    assert "headers.binary-without-binarymime" not in ids(lint(raw, Transaction(body=None)))
