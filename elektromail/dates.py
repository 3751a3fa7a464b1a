"""Dates as clients give them: IMAP's date-time and date (RFC 9051 §9), written and read back,
and ISO 8601 for the control API and fixtures. Pure code; every refusal is a ValueError."""

from __future__ import annotations

import datetime
import math
import re

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER = {name.upper(): number for number, name in enumerate(_MONTHS, 1)}
# date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE, the
# quotes left to the caller; a one-digit day without its padding space is taken as well.
_DATE_TIME = re.compile(
    r"( ?[0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) "
    r"([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
# date-text = date-day "-" date-month "-" date-year (SEARCH BEFORE, ON, SINCE ...)
_DATE = re.compile(r"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")


def format_date_time(epoch_seconds: float, tz_offset_minutes: int) -> str:
    """`17-Jul-1996 02:44:25 -0700` for a moment and its UTC offset (fractions dropped)."""
    zone = datetime.timezone(datetime.timedelta(minutes=tz_offset_minutes))
    moment = datetime.datetime.fromtimestamp(math.floor(epoch_seconds), zone)
    sign = "-" if tz_offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(tz_offset_minutes), 60)
    return (
        f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} "
        f"{sign}{hours:02d}{minutes:02d}"
    )


def parse_date_time(text: str | bytes) -> tuple[int, int]:
    """An IMAP date-time without its quotes, as APPEND takes it and format_date_time writes
    it, as (epoch seconds, offset minutes)."""
    text = _text(text)
    match = _DATE_TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid date-time {text!r}")
    day, month, year, hour, minute, second, sign, zone_h, zone_m = match.groups()
    if int(zone_h) > 23 or int(zone_m) > 59:
        raise ValueError(f"invalid time zone in date-time {text!r}")
    offset = (int(zone_h) * 60 + int(zone_m)) * (-1 if sign == "-" else 1)
    zone = datetime.timezone(datetime.timedelta(minutes=offset))
    try:
        moment = datetime.datetime(
            int(year),
            _month(month, text),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),  # a leap second counts as :59
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ValueError(f"invalid date-time {text!r}: {exc}") from None
    return int(moment.timestamp()), offset


def parse_date(text: str | bytes) -> datetime.date:
    """An IMAP date-text such as `1-Feb-1994` (SEARCH's dates)."""
    text = _text(text)
    match = _DATE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid date {text!r}")
    day, month, year = match.groups()
    try:
        return datetime.date(int(year), _month(month, text), int(day))
    except ValueError as exc:
        raise ValueError(f"invalid date {text!r}: {exc}") from None


def parse_iso_date_time(text: str) -> tuple[float, int]:
    """An ISO 8601 date-time ("2024-01-01T00:00:00Z") as (epoch seconds, offset minutes);
    one without a zone is UTC, as a test writer means it."""
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    offset = moment.utcoffset() or datetime.timedelta(0)
    try:
        return moment.timestamp(), int(offset.total_seconds() // 60)
    except (OverflowError, ValueError):  # beyond what the platform's time functions take
        raise ValueError(f"invalid date-time {text!r}: out of range") from None


def parse_given_date_time(text: str) -> tuple[float, int]:
    """A date a person wrote for a message (an /inject body, a fixture's sidecar): an IMAP
    date-time or ISO 8601, spaces around it ignored; (epoch seconds, offset minutes)."""
    text = text.strip()
    try:
        return parse_date_time(text)
    except ValueError:
        return parse_iso_date_time(text)


def _text(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return value


def _month(name: str, text: str) -> int:
    number = _MONTH_NUMBER.get(name.upper())
    if number is None:
        raise ValueError(f"invalid month in date {text!r}")
    return number
