"""FETCH data items: parsing, macros, sections, partials, labels and \\Seen semantics."""

from __future__ import annotations

import pytest

from elektromail.imap.fetchitems import FetchItem, Section, parse_fetch_item, parse_fetch_items
from elektromail.imap.reader import CommandReader
from elektromail.imap.tokens import Atom


@pytest.mark.parametrize(
    ("text", "item", "label"),
    [
        pytest.param("FLAGS", FetchItem("FLAGS"), "FLAGS", id="flags"),
        pytest.param("uid", FetchItem("UID"), "UID", id="lower-case"),
        pytest.param("RFC822.SIZE", FetchItem("RFC822.SIZE"), "RFC822.SIZE", id="size"),
        pytest.param("BODY", FetchItem("BODY"), "BODY", id="body-structure-without-ext"),
        pytest.param("BODYSTRUCTURE", FetchItem("BODYSTRUCTURE"), "BODYSTRUCTURE", id="bs"),
        pytest.param("BODY[]", FetchItem("BODY", section=Section()), "BODY[]", id="body-all"),
        pytest.param(
            "body.peek[]",
            FetchItem("BODY", peek=True, section=Section()),
            "BODY[]",
            id="peek-label-drops-peek",
        ),
        pytest.param(
            "BODY[HEADER]",
            FetchItem("BODY", section=Section(text="HEADER")),
            "BODY[HEADER]",
            id="header",
        ),
        pytest.param(
            "BODY[text]",
            FetchItem("BODY", section=Section(text="TEXT")),
            "BODY[TEXT]",
            id="text-upper-cased",
        ),
        pytest.param(
            "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>",
            FetchItem(
                "BODY",
                peek=True,
                section=Section(text="HEADER.FIELDS", fields=("FROM", "TO")),
                partial=(0, 100),
            ),
            "BODY[HEADER.FIELDS (FROM TO)]<0>",
            id="header-fields-with-partial",
        ),
        pytest.param(
            'BODY[1.HEADER.FIELDS.NOT ("X-Spam" received)]',
            FetchItem(
                "BODY",
                section=Section((1,), "HEADER.FIELDS.NOT", ("X-SPAM", "RECEIVED")),
            ),
            "BODY[1.HEADER.FIELDS.NOT (X-SPAM RECEIVED)]",
            id="header-fields-not-quoted-names",
        ),
        pytest.param(
            "BODY[1.2.3]",
            FetchItem("BODY", section=Section((1, 2, 3))),
            "BODY[1.2.3]",
            id="part",
        ),
        pytest.param(
            "BODY[2.MIME]",
            FetchItem("BODY", section=Section((2,), "MIME")),
            "BODY[2.MIME]",
            id="mime",
        ),
        pytest.param(
            "BODY[3.TEXT]<10.5>",
            FetchItem("BODY", section=Section((3,), "TEXT"), partial=(10, 5)),
            "BODY[3.TEXT]<10>",
            id="part-text-partial",
        ),
        pytest.param(
            "BINARY[1]", FetchItem("BINARY", section=Section((1,))), "BINARY[1]", id="binary"
        ),
        pytest.param(
            "BINARY.PEEK[]<0.9>",
            FetchItem("BINARY", peek=True, section=Section(), partial=(0, 9)),
            "BINARY[]<0>",
            id="binary-peek-partial",
        ),
        pytest.param(
            "BINARY.SIZE[1.2]",
            FetchItem("BINARY.SIZE", section=Section((1, 2))),
            "BINARY.SIZE[1.2]",
            id="binary-size",
        ),
        pytest.param("RFC822", FetchItem("RFC822", section=Section()), "RFC822", id="rfc822"),
        pytest.param(
            "RFC822.HEADER",
            FetchItem("RFC822.HEADER", peek=True, section=Section(text="HEADER")),
            "RFC822.HEADER",
            id="rfc822-header",
        ),
        pytest.param(
            "RFC822.TEXT",
            FetchItem("RFC822.TEXT", section=Section(text="TEXT")),
            "RFC822.TEXT",
            id="rfc822-text",
        ),
        pytest.param(
            f"BODY[]<{2**63 - 1}.{2**63 - 1}>",
            FetchItem("BODY", section=Section(), partial=(2**63 - 1, 2**63 - 1)),
            f"BODY[]<{2**63 - 1}>",
            id="number64-partial",
        ),
    ],
)
def test_parse_fetch_item_and_label(text: str, item: FetchItem, label: str) -> None:
    parsed = parse_fetch_item(text)
    assert parsed == item
    assert parsed.label() == label


@pytest.mark.parametrize(
    ("text", "seen"),
    [
        pytest.param("BODY[]", True, id="body-section"),
        pytest.param("BODY[1.MIME]", True, id="body-mime"),
        pytest.param("BODY.PEEK[]", False, id="body-peek"),
        pytest.param("BINARY[1]", True, id="binary"),
        pytest.param("BINARY.PEEK[1]", False, id="binary-peek"),
        pytest.param("BINARY.SIZE[1]", False, id="binary-size"),
        pytest.param("RFC822", True, id="rfc822"),
        pytest.param("RFC822.TEXT", True, id="rfc822-text"),
        pytest.param("RFC822.HEADER", False, id="rfc822-header"),
        pytest.param("BODY", False, id="body-structure"),
        pytest.param("FLAGS", False, id="flags"),
    ],
)
def test_sets_seen(text: str, seen: bool) -> None:
    assert parse_fetch_item(text).sets_seen is seen


@pytest.mark.parametrize(
    ("macro", "names"),
    [
        pytest.param("ALL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"], id="all"),
        pytest.param("fast", ["FLAGS", "INTERNALDATE", "RFC822.SIZE"], id="fast"),
        pytest.param(
            "FULL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"], id="full"
        ),
    ],
)
def test_macros_expand(macro: str, names: list[str]) -> None:
    items = parse_fetch_items([Atom(macro)], rev2=True)
    assert [item.name for item in items] == names
    assert all(item.section is None for item in items)


def test_single_atom_and_list() -> None:
    assert parse_fetch_items([Atom("UID")]) == [FetchItem("UID")]
    items = parse_fetch_items([[Atom("UID"), Atom("FLAGS"), Atom("uid")]])
    assert items == [FetchItem("UID"), FetchItem("FLAGS")]  # duplicates dropped


def test_items_from_a_parsed_command() -> None:
    [command] = CommandReader().feed(
        b'a FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From "To")]<0.100> BINARY.SIZE[1])\r\n'
    )
    items = parse_fetch_items(command.args[1:], rev2=True)
    assert [item.label() for item in items] == [
        "FLAGS",
        "BODY[HEADER.FIELDS (FROM TO)]<0>",
        "BINARY.SIZE[1]",
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("FOO", "unknown fetch item", id="unknown"),
        pytest.param("BODY.PEEK", "needs a section", id="peek-without-section"),
        pytest.param("BINARY", "needs a section", id="binary-without-section"),
        pytest.param("FLAGS[]", "takes no section", id="section-on-flags"),
        pytest.param("BODY[HEADER.FIELDS]", "needs a list", id="fields-without-list"),
        pytest.param("BODY[HEADER.FIELDS ()]", "parenthesized list", id="empty-field-list"),
        pytest.param("BODY[HEADER.FIELDS (A:B)]", "field name", id="colon-in-field"),
        pytest.param("BODY[HEADER.FIELDS (A (B))]", "field name", id="nested-field-list"),
        pytest.param("BODY[HEADER.FIELDS (A]", "field list", id="unclosed-field-list"),
        pytest.param("BODY[HEADER.FIELDS A B]", "parenthesized list", id="fields-not-a-list"),
        pytest.param("BODY[MIME]", "MIME needs a part", id="mime-without-part"),
        pytest.param("BODY[0]", "part number", id="part-zero"),
        pytest.param("BODY[1.0]", "part number", id="nested-part-zero"),
        pytest.param("BODY[01]", "part number", id="part-leading-zero"),
        pytest.param("BODY[4294967296]", "part number", id="part-too-big"),
        pytest.param("BODY[1.]", "invalid section", id="trailing-dot"),
        pytest.param("BODY[.1]", "invalid section", id="leading-dot"),
        pytest.param("BODY[1.FOO]", "invalid section", id="unknown-section-text"),
        pytest.param("BODY[TEXT ]", "unexpected text", id="text-with-space"),
        pytest.param("BODY[]<0.0>", "non-zero", id="zero-count"),
        pytest.param("BODY[]<0>", "invalid partial", id="origin-only"),
        pytest.param("BODY[]<a.b>", "invalid partial", id="letters"),
        pytest.param("BODY[]x", "invalid partial", id="junk-after-section"),
        pytest.param(f"BODY[]<{2**63}.1>", "too large", id="offset-over-63-bits"),
        pytest.param("BINARY[HEADER]", "only part numbers", id="binary-header"),
        pytest.param("BINARY[1.MIME]", "only part numbers", id="binary-mime"),
        pytest.param("BINARY.SIZE[1]<0.10>", "no partial", id="binary-size-partial"),
        pytest.param("BODY[", "invalid fetch item", id="unclosed-bracket"),
    ],
)
def test_invalid_item_raises_value_error(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_fetch_item(text)


@pytest.mark.parametrize("name", ["RFC822", "RFC822.HEADER", "RFC822.TEXT"])
def test_rfc822_items_are_rev1_only(name: str) -> None:
    assert parse_fetch_items([Atom(name)], rev2=False)[0].name == name
    with pytest.raises(ValueError, match="IMAP4rev2"):
        parse_fetch_items([Atom(name)], rev2=True)


def test_rfc822_size_is_valid_in_rev2() -> None:
    assert parse_fetch_items([Atom("RFC822.SIZE")], rev2=True) == [FetchItem("RFC822.SIZE")]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        pytest.param([], "missing", id="nothing"),
        pytest.param([[]], "empty fetch item list", id="empty-list"),
        pytest.param([[Atom("ALL")]], "inside a list", id="macro-in-list"),
        pytest.param([[b"FLAGS"]], "must be atoms", id="string-in-list"),
        pytest.param([[[Atom("FLAGS")]]], "must be atoms", id="nested-list"),
        pytest.param([b"FLAGS"], "atom or a parenthesized list", id="string"),
        pytest.param([Atom("FLAGS"), Atom("UID")], "unexpected arguments", id="two-atoms"),
    ],
)
def test_invalid_item_lists_raise_value_error(args: list, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_fetch_items(args)
