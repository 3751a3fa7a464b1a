"""Dates as clients give them (elektromail.dates): IMAP date-time written and read back,
SEARCH's date-text, ISO 8601; and the control API and fixtures reading them alike."""

from __future__ import annotations

import datetime

import pytest

from elektromail import dates, preload
from elektromail.http import bodies
from elektromail.http.jsonio import ApiError

# -- IMAP date-time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epoch", "offset", "text"),
    [
        pytest.param(837596665, -420, "17-Jul-1996 02:44:25 -0700", id="rfc-example"),
        pytest.param(0, 0, "01-Jan-1970 00:00:00 +0000", id="epoch"),
        pytest.param(0, 330, "01-Jan-1970 05:30:00 +0530", id="half-hour-east"),
        pytest.param(-86400, -720, "30-Dec-1969 12:00:00 -1200", id="before-1970"),
        pytest.param(1709251199, 0, "29-Feb-2024 23:59:59 +0000", id="leap-day"),
        pytest.param(253402300799, 0, "31-Dec-9999 23:59:59 +0000", id="last-second"),
    ],
)
def test_date_time_written_and_read_back(epoch: int, offset: int, text: str) -> None:
    assert dates.format_date_time(epoch, offset) == text
    assert dates.parse_date_time(text) == (epoch, offset)


def test_a_written_date_time_drops_the_fraction() -> None:
    assert dates.format_date_time(0.999, 0) == "01-Jan-1970 00:00:00 +0000"
    assert dates.format_date_time(-0.5, 0) == "31-Dec-1969 23:59:59 +0000"


def test_a_leap_second_is_read_as_the_second_before() -> None:
    assert dates.parse_date_time("31-Dec-2016 23:59:60 +0000") == (1483228799, 0)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("17-Jul-1996 02:44:25 -0700", id="two-digit-day"),
        pytest.param(b"17-Jul-1996 02:44:25 -0700", id="bytes"),
        pytest.param("17-JUL-1996 02:44:25 -0700", id="month-any-case"),
    ],
)
def test_parse_date_time(text: str | bytes) -> None:
    assert dates.parse_date_time(text) == (837596665, -420)


@pytest.mark.parametrize(
    "text",
    [" 7-Jul-1996 02:44:25 -0700", "7-Jul-1996 02:44:25 -0700", "07-Jul-1996 02:44:25 -0700"],
    ids=["space-padded-day", "one-digit-day", "zero-padded-day"],
)
def test_parse_date_time_single_digit_day(text: str) -> None:
    assert dates.parse_date_time(text) == (837596665 - 10 * 86400, -420)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("17-Jul-96 02:44:25 -0700", id="two-digit-year"),
        pytest.param("32-Jan-2020 00:00:00 +0000", id="day-32"),
        pytest.param("29-Feb-2021 00:00:00 +0000", id="not-a-leap-year"),
        pytest.param("17-Foo-1996 02:44:25 -0700", id="bad-month"),
        pytest.param("17-Jul-1996 24:00:00 +0000", id="hour-24"),
        pytest.param("17-Jul-1996 02:60:00 +0000", id="minute-60"),
        pytest.param("17-Jul-1996 02:44:25", id="no-zone"),
        pytest.param("17-Jul-1996 02:44:25 -0760", id="zone-minutes-60"),
        pytest.param("17-Jul-1996 02:44:25 0700", id="zone-without-sign"),
        pytest.param("17-Jul-1996  2:44:25 -0700", id="one-digit-hour"),
        pytest.param("17-Jul-1996 02:44:25 -0700 ", id="trailing-space"),
        pytest.param('"17-Jul-1996 02:44:25 -0700"', id="still-quoted"),
        pytest.param("  7-Jul-1996 02:44:25 -0700", id="two-spaces"),
    ],
)
def test_parse_date_time_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        dates.parse_date_time(text)


def test_parse_date_for_search() -> None:
    assert dates.parse_date("1-Feb-1994") == datetime.date(1994, 2, 1)
    assert dates.parse_date(b"01-feb-1994") == datetime.date(1994, 2, 1)
    for bad in ("1-Feb-94", "30-Feb-1994", "1 Feb 1994", ""):
        with pytest.raises(ValueError):
            dates.parse_date(bad)


# -- ISO 8601 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-01T00:00:00Z", (1704067200.0, 0)),
        ("2024-01-01T01:00:00+01:00", (1704067200.0, 60)),
        ("2024-01-01T02:00:00+02:00", (1704067200.0, 120)),
        ("2024-01-01 00:00:00", (1704067200.0, 0)),
        ("2024-01-01T00:00:00.5-00:30", (1704069000.5, -30)),
        ("2024-01-01", (1704067200.0, 0)),
    ],
    ids=["z", "east", "east-2", "naive-is-utc", "fraction-west", "date-only"],
)
def test_iso_date_times(text: str, expected: tuple[float, int]) -> None:
    assert dates.parse_iso_date_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "tomorrow", "2024-13-01T00:00:00Z", "2024-01-01T25:00:00", "01-Jan-2024"],
    ids=["empty", "words", "month-13", "hour-25", "imap-date"],
)
def test_iso_date_times_refused(text: str) -> None:
    with pytest.raises(ValueError):
        dates.parse_iso_date_time(text)


# -- a date a person wrote: the control API and fixtures -----------------------------------

GIVEN_DATES = [
    ("01-Jan-2024 00:00:00 +0000", (1704067200, 0)),
    ("1-Jan-2024 00:00:00 +0000", (1704067200, 0)),
    (" 1-jan-2024 01:00:00 +0100", (1704067200, 60)),
    ("01-Jan-2024 00:00:00 -0130", (1704067200 + 5400, -90)),
    ("31-Dec-2023 23:59:60 +0000", (1704067199, 0)),
    ("  01-Jan-2024 00:00:00 +0000\n", (1704067200, 0)),
    ("2024-01-01T00:00:00", (1704067200.0, 0)),
    ("2024-01-01T02:00:00+02:00", (1704067200.0, 120)),
    (" 2024-01-01T00:00:00Z ", (1704067200.0, 0)),
]
REFUSED_DATES = [
    "",
    "   ",
    "31-Feb-2024 00:00:00 +0000",
    "32-Jan-2024 00:00:00 +0000",
    "01-Foo-2024 00:00:00 +0000",
    "01-Jan-2024 00:00:00",
    "01-Jan-2024 00:00:00 +2400",
    "01-Jan-2024 00:00:00 +0060",
    "01-Jan-2024 24:00:00 +0000",
    "01-Jan-24 00:00:00 +0000",
    "tomorrow",
]


@pytest.mark.parametrize(("text", "expected"), GIVEN_DATES)
def test_given_date_times(text: str, expected: tuple[float, int]) -> None:
    assert dates.parse_given_date_time(text) == expected


@pytest.mark.parametrize("text", REFUSED_DATES)
def test_given_date_times_refused(text: str) -> None:
    with pytest.raises(ValueError):
        dates.parse_given_date_time(text)


@pytest.mark.parametrize("text", [text for text, _ in GIVEN_DATES] + REFUSED_DATES)
def test_the_api_and_fixtures_read_a_date_alike(text: str) -> None:
    """/inject's internal_date and a sidecar's are one rule: same moment, or both refused."""
    try:
        from_api = bodies.parse_internal_date(text)
    except ApiError:
        from_api = None
    try:
        from_fixture = preload.parse_date_time(text)
    except ValueError:
        from_fixture = None
    assert from_api == from_fixture
