"""JSON in and out for the control API: the error every refusal becomes, reading a request's
JSON body and query parameters, and writing JSON answers. Pure apart from the request object."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

JSON_TYPE = b"application/json"


class ApiError(Exception):
    """A refusal: answered as `status {"error": message}` (plus `headers`)."""

    def __init__(self, status: int, message: str, headers: Mapping[bytes, bytes] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


def write_json(request, value: Any, status: int = 200) -> bytes:
    """Set status and headers for a JSON answer; returns the body to send."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", JSON_TYPE)
    request.setHeader(b"Cache-Control", b"no-store")
    return json_bytes(value)


def json_bytes(value: Any) -> bytes:
    """`value` as the API writes JSON (answers, webhook bodies): UTF-8, not ASCII-escaped."""
    # "replace": a lone surrogate (an 8-bit byte of a header read as surrogateescape) cannot
    # be UTF-8; it becomes "?" rather than a 500.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")


def write_error(request, error: ApiError) -> bytes:
    for name, value in error.headers.items():
        request.setHeader(name, value)
    return write_json(request, {"error": error.message}, error.status)


# --- the body ----------------------------------------------------------------------------------


def read_json(request) -> Any:
    """The request body as any JSON value; ApiError 400 when it is not JSON."""
    request.content.seek(0)
    data = request.content.read()
    if not data.strip():
        raise bad_request("body: expected JSON, got an empty body")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise bad_request("body: not UTF-8") from None
    except json.JSONDecodeError as e:
        raise bad_request(
            f"body: malformed JSON: {e.msg} at line {e.lineno} column {e.colno}"
        ) from None
    except (ValueError, RecursionError) as e:  # NaN and the like; absurd nesting
        raise bad_request(f"body: malformed JSON: {e}") from None


def read_json_object(request) -> dict[str, Any]:
    """The request body as a JSON object; ApiError 400 when it is not one."""
    value = read_json(request)
    if not isinstance(value, dict):
        raise bad_request("body: expected a JSON object")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def text_field(body: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    """A string field; missing (or null) is an error when `required`."""
    value = body.get(name)
    if value is None:
        if required:
            raise bad_request(f"field {name!r}: missing")
        return None
    if not isinstance(value, str):
        raise bad_request(f"field {name!r}: expected a string")
    return value


# --- query parameters --------------------------------------------------------------------------


def query_text(request, name: str) -> str | None:
    """The value of query parameter `name`, or None when absent; a 400 when it is given more
    than once (which of two cursors or limits was meant cannot be guessed)."""
    values = request.args.get(name.encode("ascii"))
    if not values:
        return None
    if len(values) > 1:
        raise bad_request(f"parameter {name!r}: given {len(values)} times; give it once")
    try:
        return values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request(f"parameter {name!r}: not UTF-8") from None


def query_bool(request, name: str, default: bool = False) -> bool:
    value = query_text(request, name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise bad_request(f"parameter {name!r}: expected true or false")


def query_int(request, name: str, minimum: int, maximum: int | None = None) -> int | None:
    """Query parameter `name` as a whole number from `minimum` to `maximum`, None when absent
    or empty; a 400 naming the text as sent otherwise."""
    value = query_text(request, name)
    if value is None or value == "":
        return None
    return whole_number(name, value, minimum, maximum)


def query_number(request, name: str, minimum: float, maximum: float) -> float | None:
    value = query_text(request, name)
    if value is None:
        return None
    try:
        number = float(value.strip()) if value.strip().isascii() else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise bad_request(f"parameter {name!r}: expected a number")
    return _in_range(name, number, minimum, maximum)


def _in_range(name: str, number, minimum, maximum):
    if number < minimum or (maximum is not None and number > maximum):
        limits = f"from {minimum} to {maximum}" if maximum is not None else f"of {minimum} or more"
        raise bad_request(f"parameter {name!r}: expected a number {limits}")
    return number


MAX_QUERY_NUMBER = 10**18 - 1  # the largest whole number a query parameter may give
MAX_UID = 2**32 - 1  # RFC 9051 §2.3.1.1: a UID is a 32-bit value (nz-number)
_SHOWN_DIGITS = 40  # a longer number is quoted by its head and its length


def shown_number(text: str) -> str:
    """`text` as an answer quotes it: whole, or its head and its length when very long."""
    if len(text) <= _SHOWN_DIGITS:
        return text
    return f"{text[:_SHOWN_DIGITS]}... ({len(text)} digits)"


def _digits(text: str) -> bool:
    """ASCII digits only: no sign, space, point, exponent, or other script's digits."""
    return text != "" and text.isascii() and text.isdigit()


def whole_number(name: str, text: str, minimum: int, maximum: int | None = None) -> int:
    """`text` as a whole number from `minimum` to `maximum` (parameter `name`), read
    strictly (no maximum: MAX_QUERY_NUMBER, which SQLite's 64-bit integers hold); a 400 that
    quotes `text` as sent otherwise, never another number."""
    if maximum is None:
        maximum = MAX_QUERY_NUMBER
    if not _digits(text):
        raise bad_request(f"parameter {name!r}: expected a whole number, got {text[:40]!r}")
    digits = text.lstrip("0") or "0"
    number = int(digits) if len(digits) <= 30 else None  # longer: over every maximum
    if number is None or not minimum <= number <= maximum:
        limits = f"from {minimum} to {maximum}"
        raise bad_request(
            f"parameter {name!r}: expected a whole number {limits}, got {shown_number(text)}"
        )
    return number


def path_uid(text: str) -> int:
    """A UID from the path: a whole number of 1 or more (400 otherwise). One that no mailbox
    can hold (over 2^32-1) is simply not found, and the answer names it as sent."""
    if not _digits(text) or text.strip("0") == "":
        raise bad_request(
            f"parameter 'uid': expected a whole number of 1 or more, got {text[:40]!r}"
        )
    digits = text.lstrip("0")
    if len(digits) > 10 or int(digits) > MAX_UID:
        raise not_found(f"no message with UID {shown_number(text)}")
    return int(digits)


def path_index(text: str) -> int | None:
    """An attachment number from the path: a whole number from 0; None when it is one no
    message can have (so: not found)."""
    if not _digits(text):
        raise bad_request(
            f"parameter 'index': expected a whole number of 0 or more, got {text[:40]!r}"
        )
    digits = text.lstrip("0") or "0"
    return None if len(digits) > 9 else int(digits)
