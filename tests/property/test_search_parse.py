"""Properties of SEARCH keys (imap/search_parse.py and its evaluator, RFC 9051 §6.4.4) beyond
tests/imap/test_search_property.py (random token lists, set algebra):

- Any SEARCH line read by the command reader parses or raises ValueError / BadCharset, and a
  parsed program binds or raises ValueError: no other exception, whatever the bytes.
- Hostile shapes cost no stack: NOT and OR chains of any length, lists nested to any depth,
  give a program or ValueError, never RecursionError; what parses evaluates.
- The simplified tree means what the keys say: the matcher agrees with a naive recursive
  reading of the same tokens.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elektromail.imap.reader import CommandReader, ParsedCommand
from elektromail.imap.search import (
    MAX_DEPTH,
    BadCharset,
    MessageInfo,
    SearchContext,
    bind,
    parse_search,
)
from elektromail.imap.tokens import Atom
from tests.property.budget import budget

FRAGMENTS = [
    "ALL",
    "NOT",
    "OR",
    "SEEN",
    "UNSEEN",
    "FLAGGED",
    "KEYWORD",
    "LARGER",
    "SMALLER",
    "UID",
    "HEADER",
    "SUBJECT",
    "SINCE",
    "ON",
    "RETURN",
    "CHARSET",
    "(MIN MAX COUNT ALL SAVE)",
    "()",
    "UTF-8",
    "1",
    "3",
    "*",
    "$",
    "1:*",
    "4294967296",
    "1-Feb-2024",
    "x",
    '"x"',
    '"\\""',
    "{1+}\r\nx",
    "~{1+}\r\nx",
    "(",
    ")",
    " ",
    "9223372036854775808",
]
lines = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=3)), min_size=1, max_size=16
).map(" ".join)
UIDS = [2, 3, 7, 11]
MESSAGES = [
    MessageInfo(2, ("\\Seen",), size=100),
    MessageInfo(3, (), size=300),
    MessageInfo(7, ("\\Flagged", "x"), size=700),
    MessageInfo(11, ("\\Seen", "\\Flagged"), size=1100),
]


def program_or_none(args: list, rev2: bool, utf8: bool):
    try:
        return parse_search(args, rev2=rev2, utf8=utf8)
    except (ValueError, BadCharset):
        return None


@budget()
@given(line=lines, rev2=st.booleans(), utf8=st.booleans(), uid=st.booleans())
def test_any_search_line_parses_or_is_refused(line: str, rev2: bool, utf8: bool, uid: bool):
    prefix = b"t1 UID SEARCH " if uid else b"t1 SEARCH "
    for event in CommandReader(pause_after=()).feed(prefix + line.encode() + b"\r\n"):
        if not isinstance(event, ParsedCommand):
            continue
        program = program_or_none(event.args[1:] if uid else event.args, rev2, utf8)
        if program is None:
            continue
        try:
            matcher = bind(program, SearchContext(UIDS, {3}))
        except ValueError:
            continue
        if not matcher.needs_store:
            assert set(matcher.candidates({m.uid: m.flags for m in MESSAGES})) <= set(UIDS)


# -- hostile shapes -----------------------------------------------------------------------------

LEAF = [[Atom("SEEN")], [Atom("UID"), Atom("3:7")], [Atom("2")], [Atom("LARGER"), Atom("200")]]


@st.composite
def shapes(draw: st.DrawFn) -> list:
    """A key built from up to a few thousand NOT / OR / list layers in any mix."""
    key = list(draw(st.sampled_from(LEAF)))
    for layer in draw(st.lists(st.sampled_from(["NOT", "OR", "()", "AND"]), max_size=3000)):
        if layer == "NOT":
            key = [Atom("NOT"), *key]
        elif layer == "OR":
            key = [Atom("OR"), *draw(st.sampled_from(LEAF)), *key]
        elif layer == "()":
            key = [key]
        else:
            key = [*draw(st.sampled_from(LEAF)), *key]
    return key


@budget(0.3)
@given(key=shapes(), rev2=st.booleans())
def test_hostile_nesting_gives_a_program_or_value_error(key: list, rev2: bool) -> None:
    program = program_or_none(key, rev2, False)
    if program is None:
        return
    assert program.key.depth <= MAX_DEPTH
    matched = [m.uid for m in MESSAGES if bind(program, SearchContext(UIDS))(m)]
    assert set(matched) <= set(UIDS)


@pytest.mark.parametrize(
    ("key", "parses"),
    [
        ([Atom("NOT")] * 100_000 + [Atom("SEEN")], True),
        ([Atom("OR")] * 100_000 + [Atom("SEEN")] * 100_001, True),
        ([Atom("NOT"), Atom("OR")] * 60 + [Atom("SEEN")] * 61, False),
    ],
    ids=["100000-NOTs", "100000-ORs", "NOT-OR-chain-past-the-limit"],
)
def test_long_chains_cost_no_depth(key: list, parses: bool) -> None:
    """Simplification flattens NOT NOT and OR OR; what still nests past MAX_DEPTH is BAD."""
    program = program_or_none(key, False, False)
    assert (program is not None) == parses


def nested_lists(depth: int) -> list:
    key: list = [Atom("SEEN")]
    for _ in range(depth):
        key = [key]
    return key


@pytest.mark.parametrize(("depth", "parses"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_list_nesting_has_a_limit(depth: int, parses: bool) -> None:
    assert (program_or_none(nested_lists(depth), False, False) is not None) == parses


# -- the simplified tree agrees with a naive reading ---------------------------------------------

leaves = st.one_of(
    st.sampled_from(
        "ALL SEEN UNSEEN FLAGGED UNFLAGGED DELETED UNDELETED 1 2:3 * $ 4:1 1,4".split()
    ).map(lambda word: [Atom(word)]),
    st.tuples(st.sampled_from(["LARGER", "SMALLER"]), st.sampled_from(["0", "300", "701"])).map(
        lambda pair: [Atom(pair[0]), Atom(pair[1])]
    ),
    st.tuples(st.sampled_from(["KEYWORD", "UNKEYWORD"]), st.sampled_from(["x", "X", "y"])).map(
        lambda pair: [Atom(pair[0]), Atom(pair[1])]
    ),
    st.sampled_from(["2", "3:7", "*", "1:4294967295", "$"]).map(lambda s: [Atom("UID"), Atom(s)]),
)
keys = st.recursive(
    leaves,
    lambda inner: st.one_of(
        inner.map(lambda key: [Atom("NOT"), *key]),
        st.tuples(inner, inner).map(lambda pair: [Atom("OR"), *pair[0], *pair[1]]),
        st.lists(inner, min_size=1, max_size=3).map(lambda ks: [[t for k in ks for t in k]]),
    ),
    max_leaves=15,
)


def reference(tokens: list, saved: frozenset[int]) -> set[int]:
    """The UIDs the keys match, read the slow, obvious way (RFC 9051 §6.4.4)."""
    position = 0

    def numbers(text: str, uid: bool) -> set[int]:
        if text == "$":
            return set(saved)
        largest = UIDS[-1] if uid else len(UIDS)
        candidates = UIDS if uid else range(1, len(UIDS) + 1)
        found = set()
        for element in text.split(","):
            low, _, high = element.partition(":")
            a = largest if low == "*" else int(low)
            b = a if not high else largest if high == "*" else int(high)
            found.update(n for n in candidates if min(a, b) <= n <= max(a, b))
        return found if uid else {UIDS[n - 1] for n in found}

    def one() -> set[int]:
        nonlocal position
        token = tokens[position]
        position += 1
        if isinstance(token, list):
            return reference(token, saved)
        word = token.upper()
        if word == "NOT":
            return set(UIDS) - one()
        if word == "OR":
            return one() | one()
        if word == "ALL":
            return set(UIDS)
        if word in ("LARGER", "SMALLER", "KEYWORD", "UNKEYWORD", "UID"):
            value = str(tokens[position])
            position += 1
            if word == "UID":
                return numbers(value, True) & set(UIDS)
            if word in ("LARGER", "SMALLER"):
                limit = int(value)
                return {
                    m.uid
                    for m in MESSAGES
                    if (m.size > limit if word == "LARGER" else m.size < limit)
                }
            has = {m.uid for m in MESSAGES if value.lower() in (f.lower() for f in m.flags)}
            return has if word == "KEYWORD" else set(UIDS) - has
        if word[0].isdigit() or word in ("*", "$"):
            return numbers(word, False)
        present = not word.startswith("UN")
        flag = "\\" + word.removeprefix("UN").capitalize()
        has = {m.uid for m in MESSAGES if flag in m.flags}
        return has if present else set(UIDS) - has

    result = set(UIDS)
    while position < len(tokens):
        result &= one()
    return result


@budget()
@given(key=keys, more=st.lists(keys, max_size=2), saved=st.frozensets(st.sampled_from(UIDS)))
def test_matcher_agrees_with_a_naive_reading(key: list, more: list, saved: frozenset) -> None:
    tokens = key + [token for other in more for token in other]
    matcher = bind(parse_search(tokens, rev2=False, utf8=False), SearchContext(UIDS, saved))
    assert {m.uid for m in MESSAGES if matcher(m)} == reference(tokens, saved)
    assert set(matcher.candidates({m.uid: m.flags for m in MESSAGES})) >= reference(tokens, saved)
