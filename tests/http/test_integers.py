"""Whole numbers in paths and queries are read strictly, and an answer about one names it as it
was sent: `GET /messages/99999999999999999999999999` must not speak of another number."""

from __future__ import annotations

import pytest

from elektromail.http.jsonio import ApiError, path_index, path_uid, whole_number

BIG = "99999999999999999999999999"


def _inject(api, raw=b"Subject: hi\r\n\r\nbody\r\n"):
    answer = api.post("/inject", {"user": "user", "raw": raw.decode()})
    assert answer.status == 201, answer.body
    return answer.json()["uid"]


@pytest.mark.parametrize(
    "route",
    [
        "/messages/{n}",
        "/messages/{n}/raw",
        "/messages/{n}/checks",
        "/messages/{n}/transcript",
        "/messages/{n}/attachments/0",
    ],
)
@pytest.mark.parametrize("number", [BIG, "4294967296", "0" * 30 + "4294967296"])
def test_out_of_range_uid_is_named_as_sent(api, route, number):
    # RFC 9051 §2.3.1.1: a UID is a 32-bit value (nz-number, 1..4294967295); a larger one
    # names no message, and the answer quotes the text of the path, not another number.
    _inject(api)
    answer = api.get(route.format(n=number) + "?user=user")
    assert answer.status == 404
    assert f"UID {number}" in answer.error
    assert f"UID {number}9" not in answer.error


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_out_of_range_uid_in_changes(api, method):
    _inject(api)
    body = {"seen": True} if method == "PATCH" else None
    answer = api.request(method, f"/messages/{BIG}?user=user", body)
    assert answer.status == 404
    assert BIG in answer.error


@pytest.mark.parametrize(
    "text", ["0", "00", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "\u0661"]
)
def test_malformed_uid_is_400_naming_it(api, text):
    from urllib.parse import quote

    _inject(api)
    answer = api.get(f"/messages/{quote(text)}?user=user")
    assert answer.status == 400
    assert repr(text) in answer.error


def test_attachment_index_out_of_range_is_named(api):
    uid = _inject(api)
    answer = api.get(f"/messages/{uid}/attachments/{BIG}?user=user")
    assert answer.status == 404
    assert BIG in answer.error


@pytest.mark.parametrize(
    "query",
    [
        "/messages?limit={n}",
        "/messages?offset={n}",
        "/messages?count={n}&wait=0",
        "/messages?after={n}",
        "/messages/wait?after={n}&timeout=0",
        "/transcripts?limit={n}",
        "/transcripts?offset={n}",
    ],
)
@pytest.mark.parametrize("number", [BIG, "1" + "0" * 18])
def test_huge_query_number_is_named(api, query, number):
    answer = api.get(query.format(n=number))
    assert answer.status == 400
    assert number in answer.error, answer.error


@pytest.mark.parametrize("text", [" 5", "5 ", "+5", "-5", "5.0", "five", "\u0665", ""])
def test_malformed_query_number(api, text):
    from urllib.parse import quote

    answer = api.get(f"/messages?limit={quote(text)}")
    if text == "":
        assert answer.status == 200  # an empty value is no value, as before
        return
    assert answer.status == 400
    assert "'limit'" in answer.error and repr(text) in answer.error


def test_huge_number_is_shortened_in_the_answer():
    with pytest.raises(ApiError) as info:
        path_uid("9" * 5000)
    assert info.value.status == 404
    assert len(str(info.value)) < 200
    assert "5000 digits" in str(info.value)


@pytest.mark.parametrize(("text", "expected"), [("1", 1), ("007", 7), ("4294967295", 2**32 - 1)])
def test_whole_numbers(text, expected):
    assert path_uid(text) == expected
    assert whole_number("n", text, 0, 2**32) == expected


def test_path_index():
    assert path_index("0") == 0
    assert path_index("12") == 12
    assert path_index(BIG) is None
    for bad in ["-1", "x", " 1"]:
        with pytest.raises(ApiError):
            path_index(bad)


@pytest.mark.parametrize(
    "query",
    [
        "/messages?limit=1&limit=2",
        "/messages/wait?after=1&after=2&timeout=0",
        "/messages?user=user&user=alice",
        "/transcripts?offset=0&offset=0",
    ],
)
def test_a_parameter_given_twice_is_refused(api, query):
    # Which of two cursors, limits or users was meant cannot be guessed: 400, naming it.
    name = query.split("?", 1)[1].split("=", 1)[0]
    answer = api.get(query)
    assert answer.status == 400, answer.body
    assert answer.error == f"parameter {name!r}: given 2 times; give it once"
