"""Shared makings for the message-check tests: messages, and DKIM keys made here."""

from __future__ import annotations

import base64
from functools import cache

import pytest

GOOD_HEADER = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Hello\r\n"
    b"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
)


def message(extra: bytes = b"", body: bytes = b"Hello Bob.\r\n", header: bytes = GOOD_HEADER):
    return header + extra + b"\r\n" + body


@cache
def rsa_key() -> tuple[bytes, str, str]:
    """(private key PEM, TXT record value, public key PEM), made once per run."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode(), pem.decode()


def sign(raw: bytes, headers=(b"from", b"to", b"subject", b"date", b"message-id"), **kw) -> bytes:
    import dkim

    private, _, _ = rsa_key()
    signature = dkim.sign(
        raw,
        kw.get("selector", b"sel"),
        kw.get("domain", b"example.com"),
        private,
        include_headers=list(headers),
    )
    return signature + raw


@pytest.fixture
def ring():
    from elektromail.checks.keys import KeyRing

    ring = KeyRing()
    ring.put("sel", "example.com", rsa_key()[1])
    return ring


def ids(findings) -> list[str]:
    return [f.id for f in findings]
