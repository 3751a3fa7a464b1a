"""DKIM verification (RFC 6376) against keys we give, never DNS: a message signed here with
dkimpy passes, and fails once a signed header or the body is changed."""

from __future__ import annotations

import socket

import pytest

from elektromail.checks import dkim
from elektromail.checks.keys import DkimKeyError, KeyRing, load, parse_zone_lines
from elektromail.checks.message import Message
from tests.checks.conftest import message, rsa_key, sign


def verdicts(raw: bytes, ring: KeyRing) -> list[tuple[str, str]]:
    return [(s.result, s.reason) for s in dkim.verify(Message(raw), ring)]


def test_a_message_signed_here_passes(ring):
    [(result, _)] = verdicts(sign(message()), ring)
    assert result == "pass"
    [finding] = dkim.check(Message(sign(message())), ring)
    assert finding.id == "dkim.pass" and finding.details["domain"] == "example.com"


def test_a_changed_signed_header_fails_with_a_signature_mismatch(ring):
    raw = sign(message()).replace(b"Subject: Hello", b"Subject: Hellp")
    [(result, reason)] = verdicts(raw, ring)
    assert result == "fail" and "signature mismatch" in reason


def test_a_changed_body_fails_with_a_body_hash_mismatch(ring):
    raw = sign(message()).replace(b"Hello Bob.", b"Hello Rob.")
    [(result, reason)] = verdicts(raw, ring)
    assert (result, reason) == ("fail", "body hash mismatch")
    [finding] = dkim.check(Message(raw), ring)
    assert finding.severity == "error" and "body hash mismatch" in finding.message


def test_an_unknown_key_is_no_key_and_asks_no_dns(monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("DNS asked")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    [(result, reason)] = verdicts(sign(message()), KeyRing())
    assert result == "no-key" and "sel._domainkey.example.com" in reason


def test_the_wrong_key_fails(ring):
    other = KeyRing()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    other.put("sel", "example.com", pem.decode())
    [(result, _)] = verdicts(sign(message()), other)
    assert result == "fail"


def test_no_signature_is_an_info(ring):
    [finding] = dkim.check(Message(message()), ring)
    assert (finding.id, finding.severity) == ("dkim.no-signature", "info")


def test_a_garbled_signature_is_invalid(ring):
    raw = message(b"DKIM-Signature: v=1; this is junk\r\n")
    [(result, _)] = verdicts(raw, ring)
    assert result == "invalid"


def test_each_signature_gets_its_verdict(ring):
    signed = sign(message())
    twice = sign(signed, domain=b"other.example")
    results = [r for r, _ in verdicts(twice, ring)]
    assert results == ["no-key", "pass"]


def test_a_pem_public_key_becomes_a_record():
    ring = KeyRing()
    key = ring.put("Sel", "Example.COM.", rsa_key()[2])
    assert key.record.startswith("v=DKIM1; k=rsa; p=") and key.name == "sel._domainkey.example.com"
    assert [r for r, _ in verdicts(sign(message()), ring)] == ["pass"]


@pytest.mark.parametrize(
    ("selector", "domain", "value"),
    [
        ("sel", "example.com", "v=DKIM1; k=rsa; p=notbase64!!"),
        ("sel", "example.com", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"),
        ("sel", "example.com", ""),
        ("bad selector", "example.com", "v=DKIM1; p=AAAA"),
        ("sel", "exa mple.com", "v=DKIM1; p=AAAA"),
        ("sel", "example.com", "x" * 20000),
    ],
)
def test_an_unusable_key_is_refused(selector, domain, value):
    with pytest.raises(DkimKeyError):
        KeyRing().put(selector, domain, value)


def test_zone_file_lines_are_read():
    record = rsa_key()[1]
    half = len(record) // 2
    text = (
        "; keys\n"
        f'sel._domainkey.example.com. 300 IN TXT "{record[:half]}" "{record[half:]}"\n'
        f"two._domainkey.example.org {record}\n"
        f'three._domainkey.example.net. IN TXT ( "{record[:half]}"\n  "{record[half:]}" )\n'
    )
    found = parse_zone_lines(text)
    assert [(s, d) for s, d, _ in found] == [
        ("sel", "example.com"),
        ("two", "example.org"),
        ("three", "example.net"),
    ]
    assert all(v == record for _, _, v in found)


def test_the_setting_reads_a_file_or_a_directory(tmp_path):
    record = rsa_key()[1]
    file = tmp_path / "keys.zone"
    file.write_text(f"sel._domainkey.example.com {record}\n")
    assert [k.name for k in load(str(file))] == ["sel._domainkey.example.com"]
    folder = tmp_path / "keys"
    folder.mkdir()
    (folder / "sel._domainkey.example.com.txt").write_text(f'"{record}"\n')
    (folder / "pem._domainkey.example.org.pem").write_text(rsa_key()[2])
    names = sorted(k.name for k in load(str(folder)))
    assert names == ["pem._domainkey.example.org", "sel._domainkey.example.com"]
    (folder / "broken._domainkey.example.org").write_text("v=DKIM1; p=!!")
    with pytest.raises(DkimKeyError, match="broken"):
        load(str(folder))
    with pytest.raises(DkimKeyError, match="no such file"):
        load(str(tmp_path / "missing"))
