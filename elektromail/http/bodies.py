"""The request bodies the control API accepts, checked field by field: what /inject, /users
and /rules are given. Pure code; every refusal is an ApiError naming the field."""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elektromail.dates import parse_given_date_time
from elektromail.flags import InvalidFlag, check_flags
from elektromail.http.jsonio import ApiError, bad_request, text_field
from elektromail.http.openapi_schemas import MAX_LIMIT
from elektromail.lineends import crlf
from elektromail.names import (
    INBOX,
    InvalidInput,
    check_email,
    check_mailbox_name,
    check_password,
    check_user_name,
)


@dataclass(frozen=True, slots=True)
class Injection:
    user: str
    mailbox: str
    raw: bytes
    flags: tuple[str, ...]
    internal_date: float | None
    tz_minutes: int


@dataclass(frozen=True, slots=True)
class NewUser:
    user: str
    password: str
    email: str | None


def parse_injection(body: Mapping[str, Any], max_size: int) -> Injection:
    """POST /inject's body. A message over `max_size` bytes is a 413."""
    user = text_field(body, "user")
    assert user is not None
    if not user.strip():
        raise bad_request("field 'user': empty")
    mailbox = text_field(body, "mailbox", required=False)
    mailbox = INBOX if mailbox is None else _checked("mailbox", check_mailbox_name, mailbox)
    raw = _raw(body, max_size)
    flags = parse_flags(body.get("flags"))
    internal_date, tz_minutes = parse_internal_date(body.get("internal_date"))
    return Injection(user, mailbox, raw, flags, internal_date, tz_minutes)


def _raw(body: Mapping[str, Any], max_size: int) -> bytes:
    text = body.get("raw")
    encoded = body.get("raw_base64")
    if text is not None and encoded is not None:
        raise bad_request("field 'raw_base64': give either 'raw' or 'raw_base64', not both")
    if text is None and encoded is None:
        raise bad_request("field 'raw': missing (or give 'raw_base64')")
    if text is not None:
        if not isinstance(text, str):
            raise bad_request("field 'raw': expected a string")
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a \ud800 escape
            raise bad_request("field 'raw': not valid Unicode text") from None
        name = "raw"
    else:
        if not isinstance(encoded, str):
            raise bad_request("field 'raw_base64': expected a string")
        try:
            raw = binascii.a2b_base64(encoded.encode("ascii"), strict_mode=False)
        except (UnicodeEncodeError, binascii.Error):
            raise bad_request("field 'raw_base64': not valid base64") from None
        name = "raw_base64"
    if not raw:
        raise bad_request(f"field {name!r}: empty message")
    raw = crlf(raw)
    if len(raw) > max_size:
        raise ApiError(413, f"field {name!r}: message of {len(raw)} bytes exceeds {max_size}")
    return raw


def parse_flags(value: object) -> tuple[str, ...]:
    """A JSON list of IMAP flags: system flags in any case, or keywords (atoms)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("field 'flags': expected a list of strings")
    try:
        return check_flags(value)
    except InvalidFlag as e:
        raise bad_request(f"field 'flags': {e}") from None


def parse_internal_date(value: object) -> tuple[float | None, int]:
    """(POSIX time, zone offset in minutes) from an IMAP date-time ("01-Jan-2024 00:00:00
    +0000"), an ISO 8601 date-time with offset, or seconds since the epoch; (None, 0): now."""
    if value is None:
        return None, 0
    if isinstance(value, bool):
        raise _bad_date()
    if isinstance(value, int | float):
        if not 0 <= value < 253402300800:  # up to the year 9999
            raise _bad_date()
        return float(value), 0
    if not isinstance(value, str):
        raise _bad_date()
    try:
        return parse_given_date_time(value)
    except ValueError:
        raise _bad_date() from None


def _bad_date() -> ApiError:
    return bad_request(
        "field 'internal_date': expected a date such as \"01-Jan-2024 00:00:00 +0000\","
        ' "2024-01-01T00:00:00Z" or seconds since 1970'
    )


def parse_new_user(body: Mapping[str, Any]) -> NewUser:
    """POST /users's body: a name usable in a user spec, a password, maybe an email."""
    name = _checked("user", check_user_name, text_field(body, "user"))
    password = _checked("password", check_password, text_field(body, "password"))
    email = text_field(body, "email", required=False)
    if email is not None:
        email = _checked("email", check_email, email.strip())
    return NewUser(name, password, email)


# PUT /users/{user}/quota: a user's own limits; null or missing: the server's setting.
QUOTA_FIELDS = ("storage", "messages")


def parse_quota(body: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """PUT /users/{user}/quota's body, e.g. {"storage": 1048576, "messages": 10}: (storage
    bytes, message count), each a whole number from 0 or None."""
    unknown = sorted(set(body) - set(QUOTA_FIELDS))
    if unknown:
        raise bad_request(f"field {unknown[0]!r}: unknown (expected 'storage' or 'messages')")
    limits = []
    for name in QUOTA_FIELDS:
        value = body.get(name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema's integer: 1000.0 is one
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_LIMIT
        ):
            raise bad_request(f"field {name!r}: expected a whole number from 0 to 2^53, or null")
        limits.append(value)
    return limits[0], limits[1]


def _checked(field: str, check, value):
    """`check(value)`, its InvalidInput a 400 naming `field`."""
    try:
        return check(value)
    except InvalidInput as e:
        raise bad_request(f"field {field!r}: {e}") from None


# PATCH /messages/{uid}: each switch sets (true) or clears (false) one flag.
FLAG_SWITCHES = {"seen": "\\Seen", "flagged": "\\Flagged"}


def parse_flag_switches(body: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """PATCH /messages/{uid}'s body, e.g. {"seen": false}: the flags to add and to remove."""
    unknown = sorted(set(body) - set(FLAG_SWITCHES))
    if unknown:
        raise bad_request(f"field {unknown[0]!r}: unknown (expected 'seen' or 'flagged')")
    add, remove = [], []
    for name, flag in FLAG_SWITCHES.items():
        if name not in body:
            continue
        if not isinstance(body[name], bool):
            raise bad_request(f"field {name!r}: expected true or false")
        (add if body[name] else remove).append(flag)
    if not add and not remove:
        raise bad_request("body: expected 'seen' or 'flagged'")
    return tuple(add), tuple(remove)
