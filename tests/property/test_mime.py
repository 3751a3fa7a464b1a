"""Properties of the MIME parser (elektromail/mime/) and what is rendered from it.

- parse() never raises, on any bytes: every part's byte ranges lie inside the message and inside
  its parent, sizes and line counts agree with the bytes, and nesting stops at MAX_DEPTH.
- parse_envelope (the top-level header alone) gives parse()'s envelope and header end.
- to_json/from_json round-trips; ENVELOPE and BODYSTRUCTURE render and read back as balanced
  IMAP data; every section range FETCH could ask for is inside the message.
- A message generated from a known MIME tree parses back to that tree, its leaves' bodies byte
  for byte (RFC 2046 §5.1.1); generated address lists parse back to their addresses.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import example, given
from hypothesis import strategies as st

from elektromail import mime
from elektromail.imap import format as fmt
from tests.property.budget import budget

# -- any bytes -----------------------------------------------------------------------------------

FRAGMENTS = [
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"\n\n",
    b" ",
    b"\t",
    b":",
    b";",
    b"=",
    b'"',
    b"\\",
    b"--",
    b"--b",
    b"--b--",
    b"--b ",
    b"From: a@b",
    b'To: A <a@b>, "B, C" <c@d>, g: x@y;',
    b"Subject: =?utf-8?q?h=C3=A9?= =?utf-8?b?w6k=?=",
    b"Content-Type: multipart/mixed; boundary=b",
    b'Content-Type: multipart/digest; boundary="b"',
    b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; charset*0*=utf-8''%C3; charset*1=x",
    b"Content-Type: text/",
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Disposition: attachment; filename*=utf-8''a%20b",
    b"Content-Language: en, de",
    b"Content-ID: <x@y>",
    b"(comment (nested) \\) ",
    b"<",
    b">",
    b"@",
    b"\x00",
    b"\xff",
    "é".encode(),
    b"=C3=A9",
    b"aGVsbG8=",
]
raw_messages = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=4)), max_size=80).map(
        b"".join
    ),
)


def walk(part: mime.BodyPart, depth: int = 0) -> Iterator[tuple[mime.BodyPart, int]]:
    yield part, depth
    for child in part.parts:
        yield from walk(child, depth + 1)
    if part.message is not None:
        yield from walk(part.message, depth + 1)


def check_part(raw: bytes, part: mime.BodyPart) -> None:
    assert 0 <= part.start <= part.body_start <= part.end <= len(raw)
    assert part.size == part.end - part.body_start
    if part.lines is not None:
        body = raw[part.body_start : part.end]
        assert part.lines == body.count(b"\n") + (bool(body) and not body.endswith(b"\n"))
    inner = [*part.parts, *([part.message] if part.message is not None else [])]
    previous_end = part.body_start
    for child in inner:
        assert part.body_start <= child.start and child.end <= part.end
        assert child.start >= previous_end
        previous_end = child.end


def section_paths(parsed: mime.ParsedMessage) -> Iterator[tuple[int, ...]]:
    """Every section number FETCH could name, and a few that name nothing."""
    yield ()
    stack: list[tuple[tuple[int, ...], mime.BodyPart]] = [((), parsed.body)]
    while stack:
        path, part = stack.pop()
        if len(path) > 6:
            continue
        children = part.parts or ((part,) if not path or part.message is not None else ())
        if part.message is not None and path:
            inner = part.message
            children = inner.parts or (inner,)
        for number, child in enumerate(children[:4], 1):
            yield (*path, number)
            stack.append(((*path, number), child))
        yield (*path, len(children) + 1)


_RESPONSE_TOKEN = re.compile(
    rb'(\()|(\))|"((?:[\x01-\x09\x0b\x0c\x0e-\x21\x23-\x5b\x5d-\xff]|\\["\\])*)"'
    rb"|\{([0-9]+)\}\r\n|([^\x00-\x20\x7f-\xff(){%*\"\\\]]+)"
)


def read_back(data: bytes) -> list:
    """Response data as RFC 9051 §9 writes it: one parenthesized list of NIL, numbers, quoted
    strings and literals (CHAR8: no NUL), with SP between items except between two lists."""
    stack: list[list] = [[]]
    pos = 0
    previous = "start"  # what came before: start, space, open, close or value
    while pos < len(data):
        if data[pos] == 0x20:
            assert previous in ("close", "value") and data[pos + 1 : pos + 2] not in b") "
            previous, pos = "space", pos + 1
            continue
        match = _RESPONSE_TOKEN.match(data, pos)
        assert match is not None, data[pos : pos + 40]
        opening, closing, quoted, size, atom = match.groups()
        if closing:
            assert previous in ("open", "close", "value"), data[:pos]
        else:
            assert previous in ("start", "space", "open") or (opening and previous == "close")
        pos = match.end()
        if opening:
            stack[-1].append([])
            stack.append(stack[-1][-1])
            previous = "open"
            continue
        if closing:
            stack.pop()
            assert stack, "unbalanced"
            previous = "close"
            continue
        if size is not None:
            literal = data[pos : pos + int(size)]
            assert len(literal) == int(size) and b"\x00" not in literal
            stack[-1].append(literal)
            pos += int(size)
        else:
            stack[-1].append(quoted if quoted is not None else atom)
        previous = "value"
    assert len(stack) == 1 and len(stack[0]) == 1 and isinstance(stack[0][0], list)
    return stack[0][0]


@budget(2)
@given(raw=raw_messages)
def test_any_bytes_parse_into_parts_inside_the_message(raw: bytes) -> None:
    parsed = mime.parse(raw)
    assert parsed.size == len(raw)
    assert 0 <= parsed.header_end <= len(raw)
    for part, depth in walk(parsed.body):
        assert depth <= mime.MAX_DEPTH + 1
        check_part(raw, part)
    for path in section_paths(parsed):
        for spec in ("", "HEADER", "HEADER.FIELDS", "TEXT", "MIME"):
            found = mime.section_range(parsed, path, spec)
            if found is not None:
                start, end = found
                assert 0 <= start <= end <= len(raw)
                if spec.startswith("HEADER"):
                    block = raw[start:end]
                    picked = mime.filter_header_fields(block, ["subject", "x"], False)
                    for line in picked.splitlines(keepends=True):
                        # a last field without a line end gets one (RFC 9051 §6.4.5)
                        assert line in block or line.removesuffix(b"\r\n") in block


@budget(1)
@given(raw=raw_messages)
def test_the_header_alone_gives_the_whole_parse_s_envelope(raw: bytes) -> None:
    """A FETCH of ENVELOPE before the whole parse renders it from the header alone
    (store/pending.py): the same envelope, so the same bytes."""
    parsed = mime.parse(raw)
    assert mime.parse_envelope(raw) == parsed.envelope
    assert mime.header_end(raw) == parsed.header_end


@budget(2)
@given(raw=raw_messages)
def test_storage_form_round_trips(raw: bytes) -> None:
    parsed = mime.parse(raw)
    text = mime.to_json(parsed)
    assert text.isascii()
    assert mime.from_json(text) == parsed
    assert mime.envelope_from_json(text) == parsed.envelope


@budget(1.5)
@given(raw=raw_messages)
@example(raw=b"Content-ID:\x00(")  # a literal ending in "(" before a space
def test_envelope_and_bodystructure_render_as_balanced_imap_data(raw: bytes) -> None:
    """RFC 9051 §7.5.2 ENVELOPE / BODYSTRUCTURE / BODY: one parenthesized list each."""
    parsed = mime.parse(raw)
    envelope, structure, body = fmt.render_fetch_data(parsed)
    assert len(read_back(envelope)) == 10
    assert read_back(structure)
    assert read_back(body)
    utf8 = fmt.format_bodystructure(parsed.body, True, utf8_ok=True)
    assert read_back(utf8)


@budget(1.5)
@given(raw=raw_messages)
def test_decoding_helpers_never_raise(raw: bytes) -> None:
    parsed = mime.parse(raw)
    env = parsed.envelope
    for text in (env.subject, env.date, env.message_id, raw.decode("utf-8", "surrogateescape")):
        if text is not None:
            assert isinstance(mime.decode_header(text), str)
    for addresses in (env.from_, env.to, env.cc, env.bcc, env.sender, env.reply_to):
        assert isinstance(mime.decoded_addresses(addresses), str)
    for part, _ in walk(parsed.body):
        for name in ("charset", "name", "filename", "boundary"):
            mime.param_value(part.params, name)
            if part.disposition is not None:
                mime.param_value(part.disposition[1], name)
        decoded = mime.decode_body(raw[part.body_start : part.end], part.encoding)
        assert decoded is None or isinstance(decoded, bytes)


@budget()
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.lists(
            st.sampled_from(
                ['"', "\\", "(", ")", "<", ">", "@", ",", ":", ";", "[", "]", ".", " ", "a", "é"]
            ),
            max_size=40,
        ).map("".join),
    )
)
def test_any_address_text_parses(text: str) -> None:
    for address in mime.parse_addresses(text):
        assert isinstance(address, mime.Address)


# -- generated MIME trees parse back ---------------------------------------------------------------

TOKEN = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
BCHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?"
# Body lines never start with "-" so that no body line can be a delimiter line.
body_lines = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789 .,;:=<>é", max_size=30).filter(
        lambda line: not line.startswith("-")
    ),
    max_size=5,
)


@dataclass
class Tree:
    type: str
    subtype: str
    body: bytes = b""
    children: tuple[Tree, ...] = ()
    boundary: str = ""
    message: Tree | None = None  # message/rfc822
    subject: str = ""


@st.composite
def leaves(draw: st.DrawFn) -> Tree:
    ctype, subtype = draw(
        st.sampled_from(
            [("text", "plain"), ("text", "html"), ("application", "octet-stream"), ("image", "png")]
        )
    )
    lines = draw(body_lines)
    return Tree(ctype, subtype, "\n".join(lines).encode())


@st.composite
def containers(draw: st.DrawFn, inner: st.SearchStrategy[Tree]) -> Tree:
    if draw(st.booleans()):
        return Tree("message", "rfc822", message=draw(inner), subject=draw(TOKEN))
    boundary = draw(st.text(BCHARS, min_size=1, max_size=20))
    subtype = draw(st.sampled_from(["mixed", "alternative", "related"]))
    children = tuple(draw(st.lists(inner, min_size=1, max_size=4)))
    return Tree("multipart", subtype, children=children, boundary=boundary)


trees = st.recursive(leaves(), lambda inner: containers(inner), max_leaves=10)


def unique_boundaries(tree: Tree, seen: set[str] | None = None) -> bool:
    """Distinct boundaries, none of them a delimiter of another's line (RFC 2046 §5.1.1)."""
    seen = set() if seen is None else seen
    if tree.boundary:
        if any(b.startswith(tree.boundary) or tree.boundary.startswith(b) for b in seen):
            return False
        seen.add(tree.boundary)
    subtrees = [*tree.children, *([tree.message] if tree.message else [])]
    return all(unique_boundaries(child, seen) for child in subtrees)


def headers(tree: Tree) -> list[bytes]:
    value = f"{tree.type}/{tree.subtype}"
    if tree.boundary:
        value += f'; boundary="{tree.boundary}"'
    return [b"Content-Type: " + value.encode()]


def render_entity(tree: Tree, nl: bytes, subject: str | None) -> bytes:
    """A body part, or a whole message when it has a subject."""
    lines = headers(tree)
    if subject is not None:
        lines = [b"From: a@example.org", b"Subject: " + subject.encode(), *lines]
    return nl.join(lines) + nl + nl + render_body(tree, nl)


def render_body(tree: Tree, nl: bytes) -> bytes:
    if tree.message is not None:
        return render_entity(tree.message, nl, subject=tree.subject)
    if not tree.children:
        return tree.body.replace(b"\n", nl)
    delimiter = b"--" + tree.boundary.encode()
    out = b"preamble" + nl
    for child in tree.children:
        out += delimiter + nl + render_entity(child, nl, subject=None) + nl
    return out + delimiter + b"--" + nl + b"epilogue" + nl


def check_tree(raw: bytes, part: mime.BodyPart, tree: Tree) -> None:
    assert (part.type, part.subtype) == (tree.type, tree.subtype)
    if tree.message is not None:
        assert part.message is not None and part.envelope is not None
        assert part.envelope.subject == tree.subject
        check_tree(raw, part.message, tree.message)
    elif tree.children:
        assert dict(part.params).get("boundary") == tree.boundary
        assert len(part.parts) == len(tree.children)
        for child, expected in zip(part.parts, tree.children, strict=True):
            check_tree(raw, child, expected)
    else:
        assert not part.parts and part.message is None
        body = raw[part.body_start : part.end]
        assert body.replace(b"\r\n", b"\n") == tree.body


@budget()
@given(tree=trees.filter(unique_boundaries), nl=st.sampled_from([b"\r\n", b"\n"]))
def test_a_generated_mime_tree_parses_back(tree: Tree, nl: bytes) -> None:
    raw = render_entity(tree, nl, subject="top")
    parsed = mime.parse(raw)
    assert parsed.envelope.subject == "top"
    check_tree(raw, parsed.body, tree)
    assert mime.from_json(mime.to_json(parsed)) == parsed


# -- headers and addresses ------------------------------------------------------------------------

words = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~",
    min_size=1,
    max_size=8,
)
domains = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6), min_size=1, max_size=3
).map(".".join)


@st.composite
def addresses(draw: st.DrawFn) -> tuple[str, mime.Address]:
    local = ".".join(draw(st.lists(words, min_size=1, max_size=2)))
    host = draw(domains)
    form = draw(st.sampled_from(["bare", "angle", "named", "quoted-name"]))
    if form == "bare":
        return f"{local}@{host}", mime.Address(None, None, local, host)
    if form == "angle":
        return f"<{local}@{host}>", mime.Address(None, None, local, host)
    name_words = draw(st.lists(words, min_size=1, max_size=3))
    if form == "named":
        name = " ".join(name_words)
        return f"{name} <{local}@{host}>", mime.Address(name, None, local, host)
    name = ", ".join(name_words) + ' "q" \\'
    quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{quoted} <{local}@{host}>", mime.Address(name, None, local, host)


@budget()
@given(items=st.lists(addresses(), min_size=1, max_size=4), group=st.booleans())
def test_generated_address_lists_parse_back(items: list, group: bool) -> None:
    """RFC 5322 §3.4 address-list as IMAP address structures (RFC 9051 §7.5.2)."""
    text = ", ".join(written for written, _ in items)
    expected = [address for _, address in items]
    if group:
        text = f"Team: {text};"
        expected = [
            mime.Address(None, None, "Team", None),
            *expected,
            mime.Address(None, None, None, None),
        ]
    assert mime.parse_addresses(text) == expected
    raw = f"From: {text}\r\nSubject: s\r\n\r\n".encode()
    assert mime.parse(raw).envelope.from_ == tuple(expected)


@budget()
@given(
    value=st.text(
        st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E), st.sampled_from("\té中")),
        max_size=60,
    ),
    folds=st.lists(st.integers(0, 60), max_size=4),
)
def test_folded_header_values_unfold_to_themselves(value: str, folds: list[int]) -> None:
    """RFC 5322 §2.2.3: unfolding removes each CRLF that is followed by white space; then, as in
    Dovecot's ENVELOPE, each run of white space is one space."""
    value = value.strip()
    folded = value
    for cut in sorted({c for c in folds if 0 < c < len(value) and value[c] in " \t"}, reverse=True):
        folded = folded[:cut] + "\r\n" + folded[cut:]
    raw = b"Subject: " + folded.encode() + b"\r\n\r\nbody"
    assert mime.parse(raw).envelope.subject == re.sub(r"[ \t]+", " ", value)
