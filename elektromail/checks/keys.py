"""DKIM public keys that the DKIM check answers from instead of DNS: the `selector._domainkey.
domain` TXT records given by the --dkim-keys setting (a file or a directory) or the HTTP API.

A record is given as its TXT value (`v=DKIM1; k=rsa; p=MIIB...`) or as a PEM public key, which
is turned into that value. Pure code: files are read when the setting is loaded, at start-up.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass
from pathlib import Path

MAX_KEYS = 10_000  # keys one ring holds; a setting or PUT beyond it is refused
MAX_RECORD = 16 * 1024  # characters of one TXT value or PEM key
MAX_FILE = 4 * 1024 * 1024  # bytes of a key file
_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_QUOTED_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
_DOMAINKEY = "._domainkey."


class DkimKeyError(ValueError):
    """A key, record or key file that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str  # lower-case
    domain: str  # lower-case, no final dot
    record: str  # the TXT value
    source: str  # "setting" or "api"

    @property
    def name(self) -> str:
        return f"{self.selector}{_DOMAINKEY}{self.domain}"

    def to_json(self) -> dict[str, str]:
        return {
            "selector": self.selector,
            "domain": self.domain,
            "name": self.name,
            "record": self.record,
            "source": self.source,
        }


def check_name(text: str, what: str) -> str:
    """A selector or domain: dot-separated DNS labels, lower-cased, final dot dropped."""
    name = text.strip().rstrip(".").lower()
    if not name or len(name) > 253 or not all(_LABEL_RE.fullmatch(x) for x in name.split(".")):
        raise DkimKeyError(f"{what} {text[:80]!r} is not a DNS name")
    return name


def record_from(value: str) -> str:
    """A TXT value, or a PEM public key turned into one; checked to hold a usable key."""
    value = value.strip()
    if len(value) > MAX_RECORD:
        raise DkimKeyError(f"key over {MAX_RECORD} characters")
    if value.startswith("-----BEGIN"):
        value = _record_from_pem(value)
    _check_record(value)
    return value


def _record_from_pem(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as e:
        raise DkimKeyError(f"not a PEM public key: {e}") from None
    if isinstance(key, rsa.RSAPublicKey):
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode("ascii")
    raise DkimKeyError("only RSA and Ed25519 public keys sign DKIM (RFC 6376, RFC 8463)")


def _check_record(record: str) -> None:
    import dkim

    try:
        dkim.evaluate_pk(b"key", record.encode("ascii"))
    except UnicodeEncodeError:
        raise DkimKeyError("a DKIM key record is ASCII") from None
    except dkim.NaClNotFoundError:
        raise DkimKeyError("Ed25519 keys need the pynacl package, which is not installed") from None
    except Exception as e:  # KeyFormatError and the parser's own errors
        raise DkimKeyError(f"not a DKIM key record: {e}") from None


def split_name(name: str) -> tuple[str, str]:
    """`sel._domainkey.example.com` -> ("sel", "example.com")."""
    cleaned = name.strip().rstrip(".").lower()
    selector, found, domain = cleaned.partition(_DOMAINKEY)
    if not found:
        raise DkimKeyError(f"{name[:80]!r} is not a selector._domainkey.domain name")
    return check_name(selector, "selector"), check_name(domain, "domain")


def parse_zone_lines(text: str) -> list[tuple[str, str, str]]:
    """(selector, domain, TXT value) from lines such as

        sel._domainkey.example.com. 300 IN TXT "v=DKIM1; k=rsa; " "p=MIIB..."
        sel._domainkey.example.com v=DKIM1; k=rsa; p=MIIB...

    Blank lines and lines starting with # or ; are skipped; parentheses may continue a record
    over several lines, as in a zone file."""
    out = []
    for number, line in enumerate(_logical_lines(text), 1):
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        words = rest.split()
        while words and (words[0].isdigit() or words[0].upper() in ("IN", "TXT")):
            rest = rest[len(words[0]) :].lstrip()
            words.pop(0)
        quoted = _QUOTED_RE.findall(rest)
        value = "".join(q.replace('\\"', '"') for q in quoted) if quoted else rest
        try:
            selector, domain = split_name(name)
        except DkimKeyError as e:
            raise DkimKeyError(f"line {number}: {e}") from None
        if not value:
            raise DkimKeyError(f"line {number}: no TXT value for {name}")
        out.append((selector, domain, value))
    return out


def _logical_lines(text: str) -> list[str]:
    lines, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith(("#", ";"))):
            continue
        pending = f"{pending} {line}".strip()
        if pending.count("(") > pending.count(")"):
            continue
        lines.append(pending.replace("(", " ").replace(")", " ").strip())
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def load(path: str) -> list[DkimKey]:
    """The keys of the --dkim-keys setting: a file of records (parse_zone_lines), or a
    directory whose files are either named `selector._domainkey.domain` (a .txt or .pem suffix
    allowed) and hold one TXT value or PEM key, or hold records like a file."""
    where = Path(path)
    if where.is_dir():
        found: list[DkimKey] = []
        for entry in sorted(where.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                found.extend(_load_file(entry, by_name=True))
        return found
    if where.is_file():
        return _load_file(where, by_name=False)
    raise DkimKeyError(f"{path!r}: no such file or directory")


def _load_file(path: Path, by_name: bool) -> list[DkimKey]:
    if path.stat().st_size > MAX_FILE:
        raise DkimKeyError(f"{path}: over {MAX_FILE} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise DkimKeyError(f"{path}: {e}") from None
    stem = path.name.removesuffix(".txt").removesuffix(".pem")
    try:
        if by_name and _DOMAINKEY in stem.lower():
            selector, domain = split_name(stem)
            value = text.strip()
            quoted = _QUOTED_RE.findall(value)
            if quoted and not value.startswith("-----BEGIN"):
                value = "".join(quoted)
            entries = [(selector, domain, value)]
        else:
            entries = parse_zone_lines(text)
        return [DkimKey(s, d, record_from(v), "setting") for s, d, v in entries]
    except DkimKeyError as e:
        raise DkimKeyError(f"{path}: {e}") from None


class KeyRing:
    """The keys in force, by (selector, domain); safe to read from a checking thread while the
    reactor thread changes it."""

    def __init__(self, keys: list[DkimKey] = ()) -> None:
        self._lock = threading.Lock()
        self._initial = {(key.selector, key.domain): key for key in keys}
        self._keys: dict[tuple[str, str], DkimKey] = dict(self._initial)

    def reset(self) -> None:
        """Back to the keys the ring started with (the setting's): those put since go."""
        with self._lock:
            self._keys = dict(self._initial)

    @classmethod
    def from_setting(cls, path: str | None) -> KeyRing:
        return cls(load(path) if path else [])

    def put(self, selector: str, domain: str, value: str, source: str = "api") -> DkimKey:
        key = DkimKey(
            check_name(selector, "selector"),
            check_name(domain, "domain"),
            record_from(value),
            source,
        )
        with self._lock:
            if (key.selector, key.domain) not in self._keys and len(self._keys) >= MAX_KEYS:
                raise DkimKeyError(f"already {MAX_KEYS} keys: delete some first")
            self._keys[(key.selector, key.domain)] = key
        return key

    def delete(self, selector: str | None = None, domain: str | None = None) -> int:
        """Remove the keys matching the given selector and/or domain (all when neither)."""
        sel = None if selector is None else check_name(selector, "selector")
        dom = None if domain is None else check_name(domain, "domain")
        with self._lock:
            gone = [
                k
                for k in self._keys
                if (sel is None or k[0] == sel) and (dom is None or k[1] == dom)
            ]
            for k in gone:
                del self._keys[k]
        return len(gone)

    def keys(self) -> list[DkimKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.domain, k.selector))

    def lookup(self, selector: str, domain: str) -> DkimKey | None:
        with self._lock:
            return self._keys.get((selector.lower(), domain.lower().rstrip(".")))

    def txt(self, name: str) -> str | None:
        """The TXT value for a DNS name `sel._domainkey.domain.`, or None."""
        selector, found, domain = name.lower().rstrip(".").partition(_DOMAINKEY)
        if not found:
            return None
        key = self.lookup(selector, domain)
        return None if key is None else key.record

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys)
