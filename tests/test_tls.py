"""TLS material: a generated self-signed P-256 certificate, or the configured PEM files."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from elektromail.tls import TLSError, TLSMaterial, generate_self_signed


def test_generated_certificate_is_p256_with_san_for_localhost_and_bind_address():
    key_pem, cert_pem = generate_self_signed(["192.0.2.7", "localhost", "127.0.0.1"])
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name == "secp256r1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("192.0.2.7"),
        ipaddress.ip_address("127.0.0.1"),
    }
    assert b"PRIVATE KEY" in key_pem


def test_material_generates_on_first_use_only():
    material = TLSMaterial("127.0.0.1")
    assert material.certificate_pem is None
    options = material.options()
    assert material.options() is options
    assert material.certificate_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_configured_files_are_used(tmp_path):
    key_pem, cert_pem = generate_self_signed(["mail.example.test"])
    (tmp_path / "key.pem").write_bytes(key_pem)
    (tmp_path / "cert.pem").write_bytes(cert_pem)
    material = TLSMaterial("127.0.0.1", str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert material.certificate_pem == cert_pem


def test_bad_configured_files_fail_at_construction(tmp_path):
    (tmp_path / "key.pem").write_bytes(b"not a key")
    (tmp_path / "cert.pem").write_bytes(b"not a certificate")
    with pytest.raises(TLSError, match="--tls-cert/--tls-key"):
        TLSMaterial("127.0.0.1", str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
