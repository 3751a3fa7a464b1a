"""Property: on any token list the SEARCH parser raises only ValueError or BadCharset, and a
program it accepts binds (or fails with ValueError) and evaluates without any exception."""

from __future__ import annotations

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from elektromail import mime  # noqa: E402
from elektromail.imap.search import (  # noqa: E402
    BadCharset,
    MessageInfo,
    SearchContext,
    bind,
    parse_search,
    saved_result,
    search_response,
)
from elektromail.imap.tokens import Atom, Literal8String, LiteralString, String  # noqa: E402

WORDS = (
    "ALL ANSWERED BCC BEFORE BODY CC DELETED DRAFT FLAGGED FROM HEADER KEYWORD LARGER NOT ON "
    "OR SEEN SENTBEFORE SENTON SENTSINCE SINCE SMALLER SUBJECT TEXT TO UID UNANSWERED "
    "UNDELETED UNDRAFT UNFLAGGED UNKEYWORD UNSEEN NEW OLD RECENT RETURN CHARSET MIN MAX COUNT "
    "SAVE UTF-8 US-ASCII KOI8-R 1 2 3 7 * $ 1:* 2:3 4294967295 0 1-Feb-2024 31-Feb-2024 "
    "29-Feb-2023 01-Jan-1970 X-Mailer 9223372036854775808 \\Seen $Forwarded"
).split()

atoms = st.one_of(
    st.sampled_from(WORDS),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12),
).map(Atom)
strings = st.one_of(
    st.binary(max_size=12).map(String),
    st.binary(max_size=12).map(LiteralString),
    st.binary(max_size=4).map(Literal8String),
    st.sampled_from(WORDS).map(lambda w: String(w.encode())),
)
tokens = st.recursive(
    st.one_of(atoms, atoms, strings),
    lambda inner: st.lists(inner, max_size=6),
    max_leaves=40,
)

RAW = (
    b"Date: Mon, 05 Feb 2024 10:00:00 +0100\r\nFrom: =?utf-8?q?Z=C3=B6e?= <z@example.org>\r\n"
    b"Subject: hi\r\nX-Mailer: x\r\n\r\nbody 1 2 3\r\n"
)
MESSAGES = [
    MessageInfo(uid, flags, 1706788800.0, 60, 100 * uid, mime.to_json(mime.parse(RAW)), RAW)
    for uid, flags in ((2, ("\\Seen",)), (3, ()), (7, ("$Forwarded", "\\Draft")))
]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    args=st.lists(tokens, max_size=12),
    rev2=st.booleans(),
    utf8=st.booleans(),
    saved=st.frozensets(st.sampled_from([2, 3, 7, 9])),
)
def test_parser_and_evaluator_raise_nothing_unexpected(args, rev2, utf8, saved) -> None:
    check(args, rev2, utf8, saved)


def check(args: list, rev2: bool, utf8: bool, saved: frozenset[int]) -> None:
    try:
        program = parse_search(args, rev2=rev2, utf8=utf8)
    except (ValueError, BadCharset):
        return
    try:
        matcher = bind(program, SearchContext([2, 3, 7], saved))
    except ValueError:
        return
    uids = [m.uid for m in MESSAGES if matcher(m)]
    assert set(matcher.candidates({m.uid: m.flags for m in MESSAGES})) >= set(uids)
    if not matcher.needs_store:
        assert matcher.candidates({m.uid: m.flags for m in MESSAGES}) == uids
    response = search_response(program, uids, tag="t", uid=True)
    assert response == b"" or response.endswith(b"\r\n")
    assert set(saved_result(program, uids)) <= set(uids)


# -- well-formed programs: NOT, OR and AND agree with set algebra ---------------------------


def words(names: str) -> st.SearchStrategy[list]:
    return st.sampled_from(names.split()).map(lambda name: [Atom(name)])


def with_argument(names: str, values: list) -> st.SearchStrategy[list]:
    return st.tuples(st.sampled_from(names.split()), st.sampled_from(values)).map(
        lambda pair: [Atom(pair[0]), pair[1]]
    )


leaves = st.one_of(
    words("ALL ANSWERED DELETED DRAFT FLAGGED SEEN UNANSWERED UNDELETED UNDRAFT UNSEEN OLD"),
    words("1 2:3 * $ 1:* 3,1"),
    with_argument("BCC BODY CC FROM SUBJECT TEXT TO", [String(b"hi"), Atom("1"), String(b"")]),
    with_argument("FROM SUBJECT TEXT", [String("zöe".encode()), LiteralString(b"BODY")]),
    with_argument("BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE", [Atom("5-Feb-2024")]),
    with_argument("BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE", [String(b"1-Feb-2024")]),
    with_argument("LARGER SMALLER", [Atom("200"), Atom("0"), Atom("700")]),
    with_argument("UID", [Atom("2:3"), Atom("*"), Atom("$"), Atom("5:9")]),
    with_argument("KEYWORD UNKEYWORD", [Atom("$forwarded"), Atom("x")]),
    st.sampled_from([String(b"x-mailer"), Atom("Date")]).map(
        lambda field: [Atom("HEADER"), field, String(b"")]
    ),
)
keys = st.recursive(
    leaves,
    lambda inner: st.one_of(
        inner.map(lambda key: [Atom("NOT"), *key]),
        st.tuples(inner, inner).map(lambda pair: [Atom("OR"), *pair[0], *pair[1]]),
        st.lists(inner, min_size=1, max_size=3).map(
            lambda keys: [[token for key in keys for token in key]]
        ),
    ),
    max_leaves=12,
)


def run(tokens: list, saved: frozenset[int]) -> list[int]:
    matcher = bind(parse_search(tokens, rev2=False, utf8=False), SearchContext([2, 3, 7], saved))
    return [m.uid for m in MESSAGES if matcher(m)]


@settings(max_examples=300, deadline=None)
@given(a=keys, b=keys, saved=st.frozensets(st.sampled_from([2, 3, 7, 9])))
def test_not_or_and_follow_set_algebra(a: list, b: list, saved: frozenset[int]) -> None:
    every = {m.uid for m in MESSAGES}
    first, second = set(run(a, saved)), set(run(b, saved))
    assert set(run([Atom("NOT"), *a], saved)) == every - first
    assert set(run([Atom("OR"), *a, *b], saved)) == first | second
    assert set(run([*a, *b], saved)) == first & second
    assert set(run([[*a], Atom("NOT"), [*b]], saved)) == first - second


prefixes = st.tuples(
    st.one_of(
        st.just([]),
        st.lists(st.sampled_from("MIN MAX COUNT ALL SAVE".split()).map(Atom), max_size=4).map(
            lambda options: [Atom("RETURN"), options]
        ),
    ),
    st.sampled_from([[], [Atom("CHARSET"), Atom("utf-8")], [Atom("CHARSET"), String(b"X")]]),
).map(lambda pair: pair[0] + pair[1])


@settings(max_examples=200, deadline=None)
@given(
    prefix=prefixes,
    key=keys,
    rev2=st.booleans(),
    utf8=st.booleans(),
    saved=st.frozensets(st.sampled_from([2, 3, 7, 9])),
)
def test_well_formed_programs_with_options(prefix, key, rev2, utf8, saved) -> None:
    check(prefix + key, rev2, utf8, saved)
