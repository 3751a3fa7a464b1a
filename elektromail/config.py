"""Settings: one frozen object built from tap options, env vars and defaults (CLI > env > default).

Pure code. Every setting has exactly one row in SETTINGS: its option name, its env var, its
default and its parser. A later setting is `--kebab-name` / `ELEKTROMAIL_SNAKE_NAME`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


class ConfigError(Exception):
    """An invalid setting: the message names the setting and the value."""


@dataclass(frozen=True, slots=True)
class UserSpec:
    """A configured user; `email` routes mail by address before the local part is tried."""

    name: str
    password: str | None
    email: str | None = None


@dataclass(frozen=True)
class Settings:
    bind: str = "127.0.0.1"
    smtp_port: int | None = 2525  # None: listener off
    imap_port: int | None = 1143
    pop3_port: int | None = 1110
    pop3s_port: int | None = None  # implicit TLS; off by default
    http_port: int | None = None
    users: tuple[UserSpec, ...] = (UserSpec("user", "pass"),)
    auth_disabled: bool = False
    db: str | None = None  # None: in-memory SQLite
    http_token: str | None = None
    preload_dir: str | None = None
    dsn_rules: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    imaps_port: int | None = None  # implicit TLS, like GreenMail's 3993; off by default
    smtps_port: int | None = None
    max_message_size: int = 50 * 1024 * 1024  # SMTP SIZE and IMAP APPEND
    max_recipients: int = 1000
    smtp_transcripts: int = 1000  # SMTP transactions kept in the transcript ring; 0: none
    # Per-user limits (IMAP QUOTA, RFC 9208: STORAGE and MESSAGE; SMTP 552 5.2.2); None: none.
    # A user's own limits (the HTTP users API) take their place.
    quota_storage: int | None = None  # bytes
    quota_messages: int | None = None
    special_use_mailboxes: bool = True  # Sent, Drafts, Trash, Junk, Archive for every user
    require_auth: bool = False  # SMTP: refuse MAIL before AUTH
    trace_headers: bool = False  # SMTP: add Return-Path and Received
    # One info line per stored message (and per delivery rule that acts, per SMTP login);
    # off, a summary line a minute at most says how much came in.
    log_messages: bool = False
    # IMAP: refuse APPEND of 8-bit header bytes before ENABLE UTF8=ACCEPT (RFC 6855 §4's MUST);
    # off, they are stored as sent, as Dovecot does, since real rev1 clients upload such mail.
    strict_utf8_append: bool = False
    smtp_timeout: int = 300  # seconds, RFC 5321 §4.5.3.2
    imap_timeout: int = 30 * 60  # seconds after login, RFC 9051 §5.4
    imap_login_timeout: int = 60  # seconds before login
    http_timeout: int = 60  # seconds an idle HTTP connection is kept (twisted.web's default)
    # Open connections per listener (SMTP, IMAP, HTTP, SMTPS, IMAPS each); beyond it a new one
    # is answered 421 / BYE / 503 and closed.
    max_connections: int = 1000
    rules_seed: int | None = None  # seeds rule probabilities, for repeatable tests
    # Message checks: DKIM public keys (a file or directory of selector._domainkey.domain TXT
    # records; never DNS), and the link check's per-link timeout and cap on links probed.
    dkim_keys: str | None = None
    link_check_timeout: int = 5  # seconds
    link_check_max: int = 50
    # Namespaces (POST /namespaces): seconds unused before one is dropped (None: never), and
    # the domain under which `anything@<ns>.<suffix>` reaches namespace <ns>.
    namespace_idle: float | None = 24 * 3600
    namespace_suffix: str = "ns.localhost"
    # OAuth2 sign-in (XOAUTH2, OAUTHBEARER): off, accept (any token), tokens (the map's only)
    oauth: str = "off"
    oauth_tokens: tuple = ()  # oauth.Grant entries
    # Webhooks (http/webhooks.py): a JSON POST per delivered message to each URL, signed with
    # the secret when one is set; seconds per attempt; deliveries waiting per URL.
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str | None = None
    webhook_timeout: int = 10
    webhook_queue: int = 1000
    # Releasing a stored message to a real server (POST /messages/{uid}/release); no host: off.
    relay_host: str | None = None
    relay_port: int | None = None  # None: 465 for --relay-tls tls, 587 for starttls, 25 for none
    relay_tls: str = "starttls"  # starttls, tls (implicit) or none
    relay_tls_verify: bool = True  # check the upstream's certificate and name
    relay_user: str | None = None
    relay_password: str | None = field(default=None, repr=False)  # never in a log line
    relay_allow: tuple[str, ...] = ()  # globs a recipient must match (none: any recipient)
    relay_timeout: int = 30  # seconds for the whole exchange with the upstream
    # Retention: keep at most this many messages (in each namespace, the default one included;
    # None: no cap), and none saved longer ago than this many seconds (None: forever).
    max_messages: int | None = None
    max_age: float | None = None
    # Worker processes on the same ports (elektromail/workers.py); more than one needs a
    # database every process shares (is_shared_database).
    workers: int = 1
    # Options accepted now whose feature is not built yet, for the "not implemented yet" log.
    not_implemented: tuple[str, ...] = field(default=())

    @property
    def storage(self) -> str:
        if is_postgresql_db(self.db):
            return "postgresql"
        return "sqlite" if self.db else "memory"

    @property
    def storage_path(self) -> str | None:
        """`db` as /config shows it: a PostgreSQL URL without its password."""
        return redact_db(self.db)


# --- value parsers: each raises ValueError with a short reason -------------------------------


def parse_port(text: str) -> int | None:
    value = text.strip().lower()
    if value == "off":
        return None
    if not value.isdigit():
        raise ValueError("expected a port number 0-65535 or 'off'")
    port = int(value)
    if port > 65535:
        raise ValueError("port out of range 0-65535")
    return port


def parse_optional_port(text: str) -> int | None:
    return None if text.strip() == "" else parse_port(text)


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("expected 1/true/yes or 0/false/no")


def parse_bind(text: str) -> str:
    value = text.strip()
    if value == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("expected an IP address such as 127.0.0.1 or 0.0.0.0") from None
    return value


def parse_users(text: str) -> tuple[UserSpec, ...]:
    """`name:pass` or `name:email:pass`, comma separated; names are unique, case-insensitively."""
    users: list[UserSpec] = []
    seen: set[str] = set()
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        user = _parse_user(entry)
        if user.name.lower() in seen:
            raise ValueError(f"duplicate user {user.name!r}")
        seen.add(user.name.lower())
        users.append(user)
    if not users:
        raise ValueError("no user given")
    return tuple(users)


def _masked(entry: str) -> str:
    """A user spec as an error message may show it: the name (and email), never a password."""
    pieces = entry.split(":")
    if len(pieces) == 1:
        return entry
    if len(pieces) == 3:
        return f"{pieces[0]}:{pieces[1]}:***"
    return f"{pieces[0]}:***"


def _parse_user(entry: str) -> UserSpec:
    shown = _masked(entry)
    pieces = entry.split(":")
    if len(pieces) == 2:
        name, password, email = pieces[0], pieces[1], None
    elif len(pieces) == 3:
        name, email, password = pieces
    else:
        raise ValueError(f"user spec {shown!r} is not name:pass or name:email:pass")
    name = name.strip()
    if not name or any(c in name for c in " @/\\\"'") or not name.isprintable():
        raise ValueError(f"user spec {shown!r} has an invalid user name")
    if email is not None:
        email = email.strip()
        local, at, domain = email.rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"user spec {shown!r} has an invalid email address")
    if password == "":
        raise ValueError(f"user spec {shown!r} has an empty password")
    return UserSpec(name, password, email)


def parse_optional_port_off(text: str) -> int | None:
    """A port that is off unless given."""
    return None if text.strip() == "" else parse_port(text)


_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    """Bytes, with an optional K, M or G suffix (powers of 1024)."""
    value = text.strip().upper().removesuffix("B")
    unit = value[-1:] if value[-1:] in ("K", "M", "G") else ""
    number = value[: len(value) - len(unit)]
    if not number.isdigit() or int(number) == 0:
        raise ValueError("expected a positive size in bytes, optionally with K, M or G")
    return int(number) * _SIZE_UNITS[unit]


def parse_limit_size(text: str) -> int | None:
    """A limit in bytes (0 allowed: nothing fits), with K, M or G; "" or "off": no limit."""
    value = text.strip()
    if value.lower() in ("", "off"):
        return None
    if value.strip("0") == "":
        return 0
    return parse_size(value)


def parse_limit_count(text: str) -> int | None:
    """A count limit (0 allowed); "" or "off": no limit."""
    value = text.strip()
    if value.lower() in ("", "off"):
        return None
    if not value.isdigit():
        raise ValueError("expected a whole number, or off")
    return int(value)


def parse_count(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or len(value) > 9:
        raise ValueError("expected a whole number (0 or more)")
    return int(value)


def parse_positive_int(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) == 0:
        raise ValueError("expected a positive whole number")
    return int(value)


def parse_retention_count(text: str) -> int | None:
    """A positive message count; "", "off" or 0: no cap (None), as Mailpit's `--max 0`."""
    value = text.strip()
    if value.lower() in ("", "off", "0"):
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ValueError("expected a positive whole number, or off")
    return int(value)


def parse_seed(text: str) -> int | None:
    value = text.strip()
    if value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST = 36500 * 86400.0


def parse_duration_off(text: str) -> float | None:
    """Seconds, or with s/m/h/d (`90s`, `30m`, `24h`, `7d`); `off` or 0: never (None)."""
    text = text.strip().lower()
    if text in ("off", "never", "0"):
        return None
    found = _DURATION_RE.fullmatch(text)
    if not found:
        raise ValueError("expected seconds, or a number with s, m, h or d, or off")
    seconds = float(found.group(1)) * _DURATION_UNITS[found.group(2)]
    if seconds <= 0:
        return None
    if seconds > _LONGEST:  # a 400-digit number is inf, which JSON (/config) cannot say
        raise ValueError("expected at most 100 years (36500d), or off")
    return seconds


_DOMAIN_RE = re.compile(
    r"^(?=.{1,200}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$"
)


def parse_domain(text: str) -> str:
    """A DNS name of letters, digits and hyphens (lower-cased), such as `ns.localhost`."""
    text = text.strip().lower().strip(".")
    if not _DOMAIN_RE.fullmatch(text):
        raise ValueError("expected a domain name such as ns.localhost")
    return text


def parse_text(text: str) -> str | None:
    return text if text != "" else None


def parse_oauth(text: str) -> str:
    value = text.strip().lower()
    if value not in ("off", "accept", "tokens"):
        raise ValueError("expected off, accept or tokens")
    return value


def parse_oauth_tokens(text: str) -> tuple:
    from elektromail.oauth import parse_tokens

    return parse_tokens(text)


def parse_webhook_urls(text: str) -> tuple[str, ...]:
    """http:// or https:// URLs, separated by commas or spaces (a comma inside one: %2C)."""
    urls: list[str] = []
    for url in re.split(r"[,\s]+", text.strip()):
        if url:
            url = _webhook_url(url)
            if url in urls:
                raise ValueError(f"{url!r} is given twice")
            urls.append(url)
    return tuple(urls)


def _webhook_url(url: str) -> str:
    from urllib.parse import urlsplit

    if not url.isascii() or not url.isprintable():
        raise ValueError(f"{url[:200]!r}: expected an ASCII URL (percent-encode the rest)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number 0-65535
    except ValueError as e:
        raise ValueError(f"{url[:200]!r}: not a URL ({e})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url[:200]!r}: expected an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{url[:200]!r}: no host")
    if "@" in parts.netloc:
        raise ValueError(
            f"{parts.scheme}://...@{parts.hostname}: credentials in the URL are not sent;"
            " sign with --webhook-secret or put a token in the path or query"
        )
    return url


RELAY_TLS_MODES = ("starttls", "tls", "none")
_HOST_RE = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")


def parse_relay_tls(text: str) -> str:
    value = text.strip().lower()
    if value not in RELAY_TLS_MODES:
        raise ValueError("expected starttls, tls or none")
    return value


def parse_host(text: str) -> str | None:
    """A host name or IP address (empty: none)."""
    value = text.strip().strip("[]")
    if value == "":
        return None
    if not _HOST_RE.fullmatch(value):
        raise ValueError("expected a host name or IP address such as smtp.example.com")
    return value


def parse_relay_allow(text: str) -> tuple[str, ...]:
    """--relay-allow patterns, comma separated: a glob with `@` is matched against the whole
    address, one without against its domain (`*@example.com`, `*.test`); case-insensitive."""
    patterns = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    for pattern in patterns:
        if any(c.isspace() for c in pattern) or not pattern.isascii():
            raise ValueError(f"pattern {pattern!r}: expected a glob such as *@example.com")
    return patterns


def is_postgresql_db(db: str | None) -> bool:
    return bool(db) and db.startswith(("postgresql://", "postgres://"))


def redact_db(db: str | None) -> str | None:
    """A PostgreSQL URL with its password as ***, for logs and /config; a path unchanged."""
    if not is_postgresql_db(db):
        return db
    return re.sub(r"^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@", r"\1:***@", db)


MAX_WORKERS = 64


def parse_workers(text: str) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_WORKERS:
        raise ValueError(f"expected a whole number of processes from 1 to {MAX_WORKERS}")
    return int(value)


def is_shared_database(db: str | None) -> bool:
    """Whether several processes (workers, nodes) can share this store: a PostgreSQL URL. An
    in-memory store is each process's own, and a SQLite file is not made for writers in many
    processes (nor for events between them)."""
    return is_postgresql_db(db)


# Test-only: lets tests/test_workers.py run several workers without PostgreSQL (each worker
# then has its own store), to check the process plumbing alone. Never a setting.
TEST_UNSHARED_WORKERS_ENV = "ELEKTROMAIL_TEST_ONLY_UNSHARED_WORKERS"


def parse_db(text: str) -> str | None:
    """A SQLite file, or a PostgreSQL URL (postgresql://user:pass@host:port/db, or the
    socket form ?host=/run/postgresql) that needs psycopg (elektromail[postgresql])."""
    if text.strip() in ("", ":memory:"):
        return None
    if is_postgresql_db(text):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise ValueError(
                "a PostgreSQL store needs psycopg 3: pip install 'elektromail[postgresql]'"
            )
        return text
    if "://" in text:
        raise ValueError("expected a SQLite file or a postgresql:// URL")
    return text


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    attr: str  # Settings attribute
    option: str  # tap option, without the leading "--"
    env: str | None  # env var name
    parse: Callable[[str], object]
    help: str
    flag: bool = False  # a switch option (no value)
    repeatable: bool = False  # an option given several times; its values joined with ","
    implemented: bool = True


# Settings whose values an error message shows as *** (passwords, tokens).
SECRET_SETTINGS = ("users", "http_token", "oauth_tokens", "webhook_secret", "relay_password")

SETTINGS: tuple[Setting, ...] = (
    Setting("smtp_port", "smtp-port", "SMTP_PORT", parse_port, "SMTP port (0: any, off: none)"),
    Setting("imap_port", "imap-port", "IMAP_PORT", parse_port, "IMAP port (0: any, off: none)"),
    Setting("pop3_port", "pop3-port", "POP3_PORT", parse_port, "POP3 port (0: any, off: none)"),
    Setting(
        "pop3s_port",
        "pop3s-port",
        "ELEKTROMAIL_POP3S_PORT",
        parse_optional_port_off,
        "implicit-TLS POP3 port (off)",
    ),
    Setting(
        "http_port",
        "http-port",
        "HTTP_PORT",
        parse_optional_port,
        "HTTP API port (off)",
    ),
    Setting("bind", "bind", "BIND_ADDR", parse_bind, "address to listen on"),
    Setting("users", "users", "ELEKTROMAIL_USERS", parse_users, "name:pass or name:email:pass,..."),
    Setting(
        "auth_disabled",
        "auth-disabled",
        "ELEKTROMAIL_AUTH_DISABLED",
        parse_bool,
        "accept any credentials",
        flag=True,
    ),
    Setting(
        "db",
        "db",
        "ELEKTROMAIL_DB",
        parse_db,
        "SQLite file or postgresql:// URL (default: in memory)",
    ),
    Setting(
        "http_token",
        "http-token",
        "ELEKTROMAIL_HTTP_TOKEN",
        parse_text,
        "bearer token for the HTTP API",
    ),
    Setting(
        "preload_dir",
        "preload-dir",
        "ELEKTROMAIL_PRELOAD_DIR",
        parse_text,
        "directory of .eml fixtures",
    ),
    Setting(
        "dsn_rules",
        "dsn-rules",
        "ELEKTROMAIL_DSN_RULES",
        parse_text,
        "delivery rules (JSON or file)",
    ),
    Setting("tls_cert", "tls-cert", "ELEKTROMAIL_TLS_CERT", parse_text, "PEM certificate file"),
    Setting("tls_key", "tls-key", "ELEKTROMAIL_TLS_KEY", parse_text, "PEM private key file"),
    Setting(
        "imaps_port",
        "imaps-port",
        "ELEKTROMAIL_IMAPS_PORT",
        parse_optional_port_off,
        "implicit-TLS IMAP port (off)",
    ),
    Setting(
        "smtps_port",
        "smtps-port",
        "ELEKTROMAIL_SMTPS_PORT",
        parse_optional_port_off,
        "implicit-TLS SMTP port (off)",
    ),
    Setting(
        "max_message_size",
        "max-message-size",
        "ELEKTROMAIL_MAX_MESSAGE_SIZE",
        parse_size,
        "largest message for SMTP and APPEND, bytes or with K/M/G (50M)",
    ),
    Setting(
        "max_recipients",
        "max-recipients",
        "ELEKTROMAIL_MAX_RECIPIENTS",
        parse_positive_int,
        "most RCPT TO per SMTP message (1000)",
    ),
    Setting(
        "smtp_transcripts",
        "smtp-transcripts",
        "ELEKTROMAIL_SMTP_TRANSCRIPTS",
        parse_count,
        "SMTP transactions, accepted or refused, kept in memory for GET /transcripts;"
        " 0 records no transcripts at all (1000)",
    ),
    Setting(
        "quota_storage",
        "quota-storage",
        "ELEKTROMAIL_QUOTA_STORAGE",
        parse_limit_size,
        "each user's storage limit, e.g. 10M (off)",
    ),
    Setting(
        "quota_messages",
        "quota-messages",
        "ELEKTROMAIL_QUOTA_MESSAGES",
        parse_limit_count,
        "each user's message count limit (off)",
    ),
    Setting(
        "special_use_mailboxes",
        "special-use-mailboxes",
        "ELEKTROMAIL_SPECIAL_USE_MAILBOXES",
        parse_bool,
        "create Sent, Drafts, Trash, Junk, Archive for each user (yes)",
    ),
    Setting(
        "require_auth",
        "require-auth",
        "ELEKTROMAIL_REQUIRE_AUTH",
        parse_bool,
        "SMTP: refuse mail before AUTH",
        flag=True,
    ),
    Setting(
        "trace_headers",
        "trace-headers",
        "ELEKTROMAIL_TRACE_HEADERS",
        parse_bool,
        "SMTP: add Return-Path and Received headers",
        flag=True,
    ),
    Setting(
        "log_messages",
        "log-messages",
        "ELEKTROMAIL_LOG_MESSAGES",
        parse_bool,
        "log a line per stored message (default: a summary a minute)",
        flag=True,
    ),
    Setting(
        "strict_utf8_append",
        "strict-utf8-append",
        "ELEKTROMAIL_STRICT_UTF8_APPEND",
        parse_bool,
        "IMAP: refuse APPEND with 8-bit headers before ENABLE UTF8=ACCEPT (RFC 6855)",
        flag=True,
    ),
    Setting(
        "smtp_timeout",
        "smtp-timeout",
        "ELEKTROMAIL_SMTP_TIMEOUT",
        parse_positive_int,
        "SMTP idle timeout in seconds (300)",
    ),
    Setting(
        "imap_timeout",
        "imap-timeout",
        "ELEKTROMAIL_IMAP_TIMEOUT",
        parse_positive_int,
        "IMAP idle timeout after login in seconds (1800)",
    ),
    Setting(
        "imap_login_timeout",
        "imap-login-timeout",
        "ELEKTROMAIL_IMAP_LOGIN_TIMEOUT",
        parse_positive_int,
        "IMAP idle timeout before login in seconds (60)",
    ),
    Setting(
        "http_timeout",
        "http-timeout",
        "ELEKTROMAIL_HTTP_TIMEOUT",
        parse_positive_int,
        "HTTP idle timeout in seconds (60)",
    ),
    Setting(
        "max_connections",
        "max-connections",
        "ELEKTROMAIL_MAX_CONNECTIONS",
        parse_positive_int,
        "most open connections per listener (1000)",
    ),
    Setting(
        "rules_seed",
        "rules-seed",
        "ELEKTROMAIL_RULES_SEED",
        parse_seed,
        "seed for rule probabilities (random)",
    ),
    Setting(
        "dkim_keys",
        "dkim-keys",
        "ELEKTROMAIL_DKIM_KEYS",
        parse_text,
        "file or directory of DKIM key TXT records for message checks (none; never DNS)",
    ),
    Setting(
        "link_check_timeout",
        "link-check-timeout",
        "ELEKTROMAIL_LINK_CHECK_TIMEOUT",
        parse_positive_int,
        "seconds to wait for each link a message check probes (5)",
    ),
    Setting(
        "link_check_max",
        "link-check-max",
        "ELEKTROMAIL_LINK_CHECK_MAX",
        parse_positive_int,
        "most links one message check probes (50)",
    ),
    Setting(
        "namespace_idle",
        "namespace-idle",
        "ELEKTROMAIL_NAMESPACE_IDLE",
        parse_duration_off,
        "drop a namespace unused for this long, e.g. 30m, 24h, off (24h)",
    ),
    Setting(
        "namespace_suffix",
        "namespace-suffix",
        "ELEKTROMAIL_NAMESPACE_SUFFIX",
        parse_domain,
        "mail to anything@<ns>.<suffix> reaches namespace <ns> (ns.localhost)",
    ),
    Setting(
        "oauth",
        "oauth",
        "ELEKTROMAIL_OAUTH",
        parse_oauth,
        "OAuth2 sign-in (XOAUTH2, OAUTHBEARER): off, accept (any token) or tokens (off)",
    ),
    Setting(
        "oauth_tokens",
        "oauth-tokens",
        "ELEKTROMAIL_OAUTH_TOKENS",
        parse_oauth_tokens,
        "tokens for --oauth tokens: JSON list of {user, token, expiry, scope}, or its file",
    ),
    Setting(
        "webhook_urls",
        "webhook-url",
        "ELEKTROMAIL_WEBHOOK_URL",
        parse_webhook_urls,
        "POST each delivered message's summary as JSON to this http(s) URL; repeatable"
        " (the env var: comma separated) (none)",
        repeatable=True,
    ),
    Setting(
        "webhook_secret",
        "webhook-secret",
        "ELEKTROMAIL_WEBHOOK_SECRET",
        parse_text,
        "sign webhook bodies: X-Elektromail-Signature: sha256=<HMAC-SHA256 hex> (none)",
    ),
    Setting(
        "webhook_timeout",
        "webhook-timeout",
        "ELEKTROMAIL_WEBHOOK_TIMEOUT",
        parse_positive_int,
        "seconds each webhook attempt may take (10)",
    ),
    Setting(
        "webhook_queue",
        "webhook-queue",
        "ELEKTROMAIL_WEBHOOK_QUEUE",
        parse_positive_int,
        "deliveries waiting per webhook URL; beyond it the oldest is dropped (1000)",
    ),
    Setting(
        "relay_host",
        "relay-host",
        "ELEKTROMAIL_RELAY_HOST",
        parse_host,
        "SMTP server POST /messages/{uid}/release sends to (none: release is off)",
    ),
    Setting(
        "relay_port",
        "relay-port",
        "ELEKTROMAIL_RELAY_PORT",
        parse_optional_port,
        "its port (465 for --relay-tls tls, 587 for starttls, 25 for none)",
    ),
    Setting(
        "relay_tls",
        "relay-tls",
        "ELEKTROMAIL_RELAY_TLS",
        parse_relay_tls,
        "starttls (required), tls (implicit) or none (starttls)",
    ),
    Setting(
        "relay_tls_verify",
        "relay-tls-verify",
        "ELEKTROMAIL_RELAY_TLS_VERIFY",
        parse_bool,
        "check the relay's certificate and host name; off for a self-signed one (on)",
    ),
    Setting("relay_user", "relay-user", "ELEKTROMAIL_RELAY_USER", parse_text, "AUTH user"),
    Setting(
        "relay_password",
        "relay-password",
        "ELEKTROMAIL_RELAY_PASSWORD",
        parse_text,
        "AUTH password (never shown: /config says whether one is set)",
    ),
    Setting(
        "relay_allow",
        "relay-allow",
        "ELEKTROMAIL_RELAY_ALLOW",
        parse_relay_allow,
        "globs a released message's recipients must match: *@example.com,*.test (any)",
    ),
    Setting(
        "relay_timeout",
        "relay-timeout",
        "ELEKTROMAIL_RELAY_TIMEOUT",
        parse_positive_int,
        "seconds one release may take in all (30)",
    ),
    Setting(
        "max_messages",
        "max-messages",
        "ELEKTROMAIL_MAX_MESSAGES",
        parse_retention_count,
        "keep at most this many messages, oldest pruned first, in each namespace (off)",
    ),
    Setting(
        "max_age",
        "max-age",
        "ELEKTROMAIL_MAX_AGE",
        parse_duration_off,
        "prune messages stored longer ago than this, e.g. 7d, 12h, 30m, 90s (off)",
    ),
    Setting(
        "workers",
        "workers",
        "ELEKTROMAIL_WORKERS",
        parse_workers,
        "worker processes serving the same ports; more than 1 needs --db postgresql://... (1)",
    ),
)


def resolve(cli: Mapping[str, object], environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from CLI values (option name -> str, or True for a given switch),
    then env vars, then defaults. Raises ConfigError naming the first bad setting."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    not_implemented: list[str] = []
    for setting in SETTINGS:
        given = cli.get(setting.option)
        if given is not None and given is not False:
            source, raw = f"--{setting.option}", "1" if given is True else str(given)
        elif setting.env and setting.env in env:
            source, raw = setting.env, env[setting.env]
        else:
            continue
        try:
            values[setting.attr] = setting.parse(raw)
        except ValueError as e:
            shown = "***" if setting.attr in SECRET_SETTINGS else raw
            if setting.attr == "webhook_urls":  # a password in a URL is not shown either
                shown = re.sub(r"//[^/?#]*@", "//***@", raw)
            shown = redact_db(shown) if setting.attr == "db" else shown
            raise ConfigError(f"invalid {source}={shown!r}: {e}") from None
        if not setting.implemented and values[setting.attr] not in (None, False):
            not_implemented.append(f"--{setting.option}")
    settings = Settings(**values, not_implemented=tuple(not_implemented))
    _check_together(settings)
    _check_workers(settings, env)
    return settings


def _check_workers(settings: Settings, env: Mapping[str, str]) -> None:
    if settings.workers == 1 or is_shared_database(settings.db):
        return
    if env.get(TEST_UNSHARED_WORKERS_ENV) == "1":
        return
    raise ConfigError(
        f"invalid ELEKTROMAIL_WORKERS/--workers={settings.workers}: more than one worker needs"
        " a PostgreSQL database (--db postgresql://...); an in-memory or SQLite store cannot"
        " be shared by processes"
    )


def _check_together(settings: Settings) -> None:
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("invalid --tls-cert/--tls-key: give both or neither")
    for path, name in ((settings.tls_cert, "--tls-cert"), (settings.tls_key, "--tls-key")):
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"invalid {name}={path!r}: file not readable")
    if (settings.relay_user is None) != (settings.relay_password is None):
        raise ConfigError("invalid --relay-user/--relay-password: give both or neither")
    if settings.db and not is_postgresql_db(settings.db):
        directory = os.path.dirname(os.path.abspath(settings.db))
        if not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            raise ConfigError(
                f"invalid ELEKTROMAIL_DB/--db={settings.db!r}: directory not writable"
            )
        if os.path.exists(settings.db) and not os.access(settings.db, os.R_OK | os.W_OK):
            raise ConfigError(f"invalid ELEKTROMAIL_DB/--db={settings.db!r}: file not writable")
