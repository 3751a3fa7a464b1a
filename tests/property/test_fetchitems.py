"""Properties of FETCH data items (imap/fetchitems.py, RFC 9051 §6.4.5, RFC 3516).

- Any tokens, and any bytes read as a FETCH command, give items or ValueError; nothing else.
- An item written as a client would (`BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.5>`), alone or in
  a list, read by the command reader, parses back to the same FetchItem.
- The response label of an item parses back to the same name and section.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elektromail.imap import format as fmt
from elektromail.imap.fetchitems import (
    MACROS,
    MAX_NUMBER64,
    MAX_PART,
    SIMPLE_ITEMS,
    FetchItem,
    Section,
    parse_fetch_item,
    parse_fetch_items,
)
from elektromail.imap.reader import CommandReader, ParsedCommand
from elektromail.imap.tokens import Atom, String
from tests.property.budget import budget

WORDS = [
    "BODY",
    "BODY.PEEK",
    "BINARY",
    "BINARY.PEEK",
    "BINARY.SIZE",
    "RFC822",
    "RFC822.SIZE",
    "ENVELOPE",
    "FLAGS",
    "UID",
    "ALL",
    "FAST",
    "FULL",
    "[",
    "]",
    "[]",
    "[1]",
    "[1.2.MIME]",
    "[HEADER.FIELDS (A B)]",
    "[HEADER.FIELDS.NOT ()]",
    "[TEXT]",
    "[0]",
    "<0.1>",
    "<1.0>",
    "<99999999999999999999.1>",
    "<",
    ">",
    ".",
    "4294967296",
    " ",
]
atoms = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(lambda w: Atom("".join(w))),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=20).map(
        Atom
    ),
)
tokens = st.recursive(
    st.one_of(atoms, st.binary(max_size=5).map(String)),
    lambda inner: st.lists(inner, max_size=4),
    max_leaves=8,
)


@budget()
@given(args=st.lists(tokens, max_size=3), rev2=st.booleans())
def test_any_tokens_give_items_or_value_error(args: list, rev2: bool) -> None:
    try:
        items = parse_fetch_items(args, rev2=rev2)
    except ValueError:
        return
    assert items and len(items) == len(set(items))
    for item in items:
        assert item.name in SIMPLE_ITEMS or item.name in ("BINARY", "BINARY.SIZE")


@budget()
@given(
    text=st.lists(
        st.one_of(st.sampled_from([*WORDS, "(", ")", '"', "{2}\r\nab"]), st.text(max_size=4)),
        max_size=10,
    ).map("".join)
)
def test_any_fetch_line_gives_items_or_value_error(text: str) -> None:
    line = b"t1 FETCH 1 " + text.encode("utf-8") + b"\r\n"
    for event in CommandReader(pause_after=()).feed(line):
        if isinstance(event, ParsedCommand):
            try:
                parse_fetch_items(event.args[1:], rev2=False)
            except ValueError:
                pass


# RFC 5322 ftext: printable ASCII except ":".
field_names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"),
    min_size=1,
    max_size=12,
).map(str.upper)
parts = st.lists(st.one_of(st.integers(1, 20), st.just(MAX_PART)), max_size=4).map(tuple)


@st.composite
def sections(draw: st.DrawFn, body: bool) -> Section:
    part = draw(parts)
    texts = ["", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"] if body else [""]
    if body and part:
        texts.append("MIME")
    text = draw(st.sampled_from(texts))
    fields = ()
    if text.startswith("HEADER.FIELDS"):
        fields = tuple(draw(st.lists(field_names, min_size=1, max_size=4)))
    return Section(part, text, fields)


partials = st.one_of(
    st.none(),
    st.tuples(st.integers(0, MAX_NUMBER64), st.integers(1, MAX_NUMBER64)),
    st.tuples(st.integers(0, 100), st.integers(1, 100)),
)


@st.composite
def fetch_items(draw: st.DrawFn) -> FetchItem:
    name = draw(st.sampled_from(["BODY", "BINARY", "BINARY.SIZE", "simple"]))
    if name == "simple":
        return parse_fetch_item(draw(st.sampled_from(sorted(SIMPLE_ITEMS))))
    peek = name != "BINARY.SIZE" and draw(st.booleans())
    partial = None if name == "BINARY.SIZE" else draw(partials)
    return FetchItem(name, peek, draw(sections(name == "BODY")), partial)


def client_text(item: FetchItem, case: str) -> str:
    if item.section is None or item.name.startswith("RFC822"):
        text = item.name
    else:
        text = f"{item.name}{'.PEEK' if item.peek else ''}[{item.section.spec()}]"
        if item.partial is not None:
            text += f"<{item.partial[0]}.{item.partial[1]}>"
    return text.lower() if case == "lower" else text


@budget()
@given(
    items=st.lists(fetch_items(), min_size=1, max_size=4, unique=True),
    case=st.sampled_from(["upper", "lower"]),
    uid=st.booleans(),
)
def test_written_items_read_back(items: list[FetchItem], case: str, uid: bool) -> None:
    written = [client_text(item, case) for item in items]
    listed = "(" + " ".join(written) + ")"
    prefix = b"t1 UID FETCH 1:* " if uid else b"t1 FETCH 1:* "
    for spec in [listed] + ([written[0]] if len(items) == 1 else []):
        [command] = CommandReader(pause_after=()).feed(prefix + spec.encode("ascii") + b"\r\n")
        assert isinstance(command, ParsedCommand), command
        args = command.args[2:] if uid else command.args[1:]
        assert parse_fetch_items(args, rev2=False) == items


@budget()
@given(item=fetch_items())
def test_labels_name_the_same_section(item: FetchItem) -> None:
    """RFC 9051 §7.5.2: the response echoes the section, and only the origin of a partial."""
    label = item.label()
    if item.section is None or item.name.startswith("RFC822"):
        assert label == item.name
        return
    if item.partial is not None:
        origin = f"<{item.partial[0]}>"
        assert label.endswith(origin)
        label = label.removesuffix(origin)
    echoed = parse_fetch_item(label)
    assert (echoed.name, echoed.section) == (item.name, item.section)


@budget(0.3)
@given(macro=st.sampled_from(sorted(MACROS)), rev2=st.booleans())
def test_macros_expand_to_their_items(macro: str, rev2: bool) -> None:
    items = parse_fetch_items([Atom(macro.lower())], rev2=rev2)
    assert [item.name for item in items] == list(MACROS[macro])


@pytest.mark.parametrize(
    "field",
    ["X-A]B", "X-(A)", 'X-"A"', "X-\\A"],
    ids=["bracket", "parentheses", "quotes", "backslash"],
)
def test_any_field_name_survives_the_section_brackets(field: str) -> None:
    """RFC 9051 §9: header-fld-name is an astring, so "]" and quoted strings may occur."""
    line = b"t1 FETCH 1 BODY.PEEK[HEADER.FIELDS (A " + fmt.astring(field) + b")]<0.5>\r\n"
    [command] = CommandReader(pause_after=()).feed(line)
    [item] = parse_fetch_items(command.args[1:])
    assert item.section.fields == ("A", field) and item.partial == (0, 5)
