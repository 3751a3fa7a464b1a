"""TLS material: the configured PEM files, or a self-signed P-256 certificate made in memory.

One `TLSMaterial` per server; STARTTLS in SMTP and IMAP and the implicit-TLS ports share its
context. The generated key never leaves the process.
"""

from __future__ import annotations

import datetime
import ipaddress

from OpenSSL.SSL import Error as SSLError
from twisted.internet import ssl


class TLSError(Exception):
    """The configured certificate or key cannot be used."""


def generate_self_signed(hostnames: list[str]) -> tuple[bytes, bytes]:
    """(key PEM, certificate PEM) for a fresh P-256 key, valid for `hostnames` (DNS names or
    IP addresses) for 825 days."""
    # Imported here: cryptography's x509 costs tens of milliseconds at start-up otherwise.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hostnames):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


class ServerContextFactory(ssl.ContextFactory):
    """One OpenSSL server context (TLS 1.2 and newer) made from PEM key and certificate.

    Built here rather than with Twisted's CertificateOptions, which hands pyOpenSSL its own
    X509/PKey objects, a use pyOpenSSL deprecates; this passes cryptography's objects."""

    def __init__(self, key_pem: bytes, cert_pem: bytes) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from OpenSSL import SSL

        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
            certificate = x509.load_pem_x509_certificate(cert_pem)
            context = SSL.Context(SSL.TLS_SERVER_METHOD)
            context.set_min_proto_version(SSL.TLS1_2_VERSION)
            context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE)
            context.use_certificate(certificate)
            context.use_privatekey(key)
            context.check_privatekey()
        except (ValueError, TypeError, SSL.Error) as e:
            raise TLSError(f"invalid --tls-cert/--tls-key: {e}") from None
        self._context = context

    def getContext(self):
        return self._context


class TLSMaterial:
    """The server's certificate and the context factory built from it, made on first use
    unless files are configured (those are checked at start-up)."""

    def __init__(self, bind: str, cert_path: str | None = None, key_path: str | None = None):
        self.hostnames = ["localhost", "127.0.0.1"]
        if bind not in ("0.0.0.0", "::"):
            self.hostnames.insert(0, bind)
        self._paths = (cert_path, key_path)
        self._factory: ServerContextFactory | None = None
        self.certificate_pem: bytes | None = None
        if cert_path and key_path:
            self.options()  # a bad file must stop start-up, not the first STARTTLS

    def options(self) -> ServerContextFactory:
        """The context factory for listenSSL and startTLS, shared by every protocol."""
        if self._factory is None:
            key_pem, cert_pem = self._load_or_generate()
            self._factory = ServerContextFactory(key_pem, cert_pem)
            self.certificate_pem = cert_pem
        return self._factory

    def _load_or_generate(self) -> tuple[bytes, bytes]:
        cert_path, key_path = self._paths
        if not (cert_path and key_path):
            return generate_self_signed(self.hostnames)
        try:
            with open(key_path, "rb") as k, open(cert_path, "rb") as c:
                return k.read(), c.read()
        except OSError as e:
            raise TLSError(f"invalid --tls-cert/--tls-key: {e}") from None


def tls_failed(reason: object) -> bool:
    """Whether a connection was lost to a TLS error (a failed handshake, mostly): its
    connectionLost reason, for GET /metrics' errors."""
    check = getattr(reason, "check", None)
    return check is not None and check(SSLError) is not None
