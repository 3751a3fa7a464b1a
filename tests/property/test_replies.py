"""No Python repr on the wire: the reply writers (imap/format.py) make one 7-bit line of
RFC 9051 §7.1's resp-cond grammar from any text, `shown` quotes any client token as IMAP text,
and a live server answers every command of its table, given any arguments, with replies made
of them.

RFC 9051 §9:
    response-tagged = tag SP resp-cond-state CRLF
    resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
    resp-text       = ["[" resp-text-code "]" SP] [text]
    text            = 1*TEXT-CHAR
    TEXT-CHAR       = <any CHAR except CR and LF>
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from elektromail.imap import commands  # noqa: F401  (fills the command table)
from elektromail.imap import format as fmt
from elektromail.imap.dispatch import TABLE
from elektromail.imap.tokens import (
    SHOWN_LIMIT,
    Atom,
    LiteralString,
    String,
    parse_arguments,
    quote_text,
    shown,
)
from elektromail.testing import MailServer
from tests.imap.wire import ImapWire
from tests.property.budget import budget

# What a Python repr of a parser token looks like (bytes, an Atom, a String, a list of them),
# and what must never reach a client. The tokens made here hold no "b", quote or "(", so no
# echo of a client's token can look like one: a match is the server's own doing.
# Python's escapes (\x0b, \u00e9) too: the tokens hold no backslash.
REPR = re.compile(rb"""b'|b"|Atom\(|String\(|\\x[0-9a-f]{2}|\\u[0-9a-f]{4}""")
TAG = rb"(\*|[!#-'*-Z^-z|~]+)"  # "*" or 1*<ASTRING-CHAR except "+">
TEXT = rb"[\x01-\x09\x0b\x0c\x0e-\x7f]+"  # 1*TEXT-CHAR: CHAR (%x01-7F) but CR and LF
CODE = rb"(\[[^\]\r\n]+\] )?"
STATUS_LINE = re.compile(TAG + rb" (OK|NO|BAD|BYE|PREAUTH) " + CODE + TEXT + rb"\r\n")
CODES = sorted(fmt.RESPONSE_CODES)

texts = st.text(max_size=200)
tags = st.from_regex(r"[A-Za-z0-9.]{1,12}", fullmatch=True)
# ATOM-CHARs (RFC 9051 §9) but "b" and "'": see REPR.
atoms = st.from_regex(r"[!#$&+,\-./0-9:;<=>?@A-Z\[^_`ac-z|}~]{1,20}", fullmatch=True).map(Atom)
_CLEAN = bytes.maketrans(b"b'\"(\\", b"?????")
strings = st.binary(max_size=30).map(lambda data: String(data.translate(_CLEAN)))
literals = st.binary(max_size=30).map(lambda data: LiteralString(data.translate(_CLEAN)))
tokens = st.recursive(
    atoms | strings | literals, lambda inner: st.lists(inner, max_size=4), max_leaves=12
)


@given(tag=st.none() | tags, status=st.sampled_from(["OK", "NO", "BAD"]), text=texts)
@budget(0.5)
def test_a_tagged_reply_is_one_line_of_the_grammar_whatever_its_text(tag, status, text):
    line = fmt.tagged(tag, status, text)
    assert STATUS_LINE.fullmatch(line), line
    assert line.count(b"\r\n") == 1


@given(status=st.sampled_from(["OK", "NO", "BAD", "BYE"]), code=st.sampled_from(CODES), text=texts)
@budget(0.5)
def test_an_untagged_status_with_a_code_is_one_line_of_the_grammar(status, code, text):
    line = fmt.untagged_status(status, text, code)
    assert STATUS_LINE.fullmatch(line), line
    assert line.startswith(b"* " + status.encode() + b" [" + code.encode() + b"] ")


@given(text=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
@budget(0.3)
def test_a_continuation_is_one_line_whatever_its_text(text):
    line = fmt.continuation(text)
    assert line.startswith(b"+ ") and line.endswith(b"\r\n") and line.count(b"\r\n") == 1
    assert line.isascii()


def test_a_code_outside_the_catalogue_is_refused_by_the_writer():
    """RFC 9051 §7.1 names the codes; a misspelt one fails in the writer, not at a client."""
    with pytest.raises(ValueError, match="catalogue"):
        fmt.format_response_code("TRY-CREATE")
    assert fmt.format_response_code(fmt.TRYCREATE) == b"[TRYCREATE]"


@given(token=tokens)
@budget(0.5)
def test_a_shown_token_is_short_printable_ascii_and_never_a_repr(token):
    text = shown(token)
    assert len(text) <= SHOWN_LIMIT
    assert all(" " <= c <= "~" for c in text)
    assert not REPR.search(text.encode())


# Without "[": after BODY or BINARY it opens a section, which the reader spans to its "]".
_plain_atoms = atoms.filter(lambda atom: "[" not in atom)


@given(
    token=st.recursive(
        _plain_atoms | strings, lambda inner: st.lists(inner, max_size=3), max_leaves=4
    )
)
@budget(0.5)
def test_a_shown_token_reads_back_as_the_token(token):
    """`shown` writes IMAP syntax: what it quotes parses back to the same token, but for the
    bytes it could not show (not printable ASCII), which read back as "?"."""
    text = shown(token, limit=10_000)

    def printable(t):
        if isinstance(t, list):
            return [printable(item) for item in t]
        if isinstance(t, String):
            return bytes(t.decode("ascii", "replace"), "ascii", "replace").translate(_SHOWN)
        return str(t)

    [back] = parse_arguments(text.encode())
    assert printable(back) == printable(token)


_SHOWN = bytes(c if 0x20 <= c <= 0x7E else ord("?") for c in range(256))


@pytest.mark.parametrize(
    ("token", "text"),
    [
        (Atom("MESSAGES"), "MESSAGES"),
        (String(b"x"), '"x"'),
        (LiteralString(b"abc"), "{3}"),
        ([Atom("x"), [String(b"y")]], '(x ("y"))'),
        (String("é".encode()), '"??"'),
        (String(b'say "hi" \\ bye'), '"say \\"hi\\" \\\\ bye"'),
        (Atom("x" * 60), "x" * (SHOWN_LIMIT - 3) + "..."),
    ],
    ids=["atom", "quoted", "literal", "nested-list", "8-bit", "escapes", "long"],
)
def test_shown_writes_tokens_as_imap_text(token, text):
    assert shown(token) == text


@given(text=st.text(max_size=120))
@budget(0.3)
def test_a_quoted_text_is_short_printable_ascii_without_python_escapes(text):
    quoted = quote_text(text)
    assert quoted.startswith("'") and quoted.endswith("'")
    assert len(quoted) <= SHOWN_LIMIT + 2
    assert all(" " <= c <= "~" for c in quoted)
    assert "\\x" not in quoted or "\\x" in text


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("FOO", "'FOO'"),
        ("\x0b", "'?'"),
        ("é", "'?'"),
        ("x" * 50, "'" + "x" * (SHOWN_LIMIT - 3) + "...'"),
    ],
    ids=["plain", "control", "8-bit", "long"],
)
def test_quote_text_quotes_as_the_error_texts_always_did_without_escapes(text, quoted):
    """`unknown search key 'FOO'` as before; `'\\x0b'` (Python's escape) no more."""
    assert quote_text(text) == quoted


# --- over the wire -----------------------------------------------------------------------

# Commands that wait for more than one line from the client or end the session are left out:
# their arguments are checked by their own tests (AUTHENTICATE, IDLE, STARTTLS, LOGOUT, LOGIN).
WAITING = {"AUTHENTICATE", "IDLE", "STARTTLS", "LOGOUT", "LOGIN"}
A, S = Atom, String
# A well-formed call of each command; each example sends one with parts replaced by any token,
# so a bad argument turns up in every position a command has (as "x" in STATUS INBOX ("x")).
TEMPLATES: dict[str, list] = {
    "APPEND": [A("INBOX"), [A("\\Seen")], S(b"01-Jan-2024 00:00:00 +0000")],
    "CAPABILITY": [],
    "CHECK": [],
    "CLOSE": [],
    "COPY": [A("1:*"), A("Trash")],
    "CREATE": [A("New"), [A("USE"), [A("\\Archive")]]],
    "DELETE": [A("Gone")],
    "ENABLE": [A("IMAP4rev2"), A("UTF8=ACCEPT")],
    "EXAMINE": [A("INBOX")],
    "EXPUNGE": [],
    "GETQUOTA": [S(b"User quota")],
    "GETQUOTAROOT": [A("INBOX")],
    "SETQUOTA": [S(b"User quota"), [A("STORAGE"), A("512")]],
    "CANCELUPDATE": [S(b"A01")],
    "FETCH": [A("1:*"), [A("UID"), A("FLAGS"), A("BODY.PEEK[HEADER]<0.10>")]],
    "ID": [[S(b"name"), S(b"probe")]],
    "LIST": [[A("SUBSCRIBED")], S(b""), A("*"), A("RETURN"), [A("STATUS"), [A("MESSAGES")]]],
    "LSUB": [S(b""), A("*")],
    "MOVE": [A("1"), A("Trash")],
    "NAMESPACE": [],
    "NOOP": [],
    "NOTIFY": [
        A("SET"),
        A("STATUS"),
        [A("SELECTED"), [A("MessageNew"), [A("UID")], A("MessageExpunge")]],
        [A("SUBTREE"), [A("INBOX")], [A("MessageNew"), A("MessageExpunge"), A("MailboxName")]],
    ],
    "RENAME": [A("Old"), A("New")],
    "SEARCH": [A("RETURN"), [A("MIN")], A("CHARSET"), A("UTF-8"), A("SUBJECT"), S(b"one")],
    "SELECT": [A("INBOX")],
    "SORT": [A("RETURN"), [A("ALL")], [A("REVERSE"), A("DATE")], A("UTF-8"), A("SUBJECT"), S(b"x")],
    "STATUS": [A("INBOX"), [A("MESSAGES"), A("UIDNEXT")]],
    "STORE": [A("1:*"), A("+FLAGS.SILENT"), [A("\\Seen"), A("$Label")]],
    "SUBSCRIBE": [A("Folder")],
    "THREAD": [A("REFERENCES"), A("UTF-8"), A("SUBJECT"), S(b"one")],
    "UNAUTHENTICATE": [],
    "UNSELECT": [],
    "UNSUBSCRIBE": [A("Folder")],
}


def test_every_command_of_the_table_has_a_template():
    assert set(TEMPLATES) | WAITING == set(TABLE.names())


def _mutated(value):
    """`value` as it is, or any token in its place; in a list, each element so."""
    if isinstance(value, list):
        kept = st.tuples(*(_mutated(item) for item in value)).map(list)
        return st.one_of(kept, tokens)
    return st.one_of(st.just(value), tokens)


@st.composite
def calls(draw):
    name = draw(st.sampled_from(sorted(TEMPLATES)))
    uid = draw(st.booleans()) and TABLE.lookup(name).uid
    arguments = list(draw(st.tuples(*(_mutated(item) for item in TEMPLATES[name]))))
    arguments += draw(st.lists(tokens, max_size=1))  # now and then one too many
    return name, uid, arguments


def _wire_argument(token) -> bytes:
    if isinstance(token, Atom):
        return str(token).encode()
    if isinstance(token, list):
        return b"(" + b" ".join(_wire_argument(item) for item in token) + b")"
    return b'"' + re.sub(rb"[\r\n\x00]", b"", bytes(token)) + b'"'  # tokens hold no quote


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@given(call=calls())
@budget(0.5)
def test_every_command_given_any_arguments_answers_without_a_repr(mail, call):
    """Whatever the arguments, the answer is RFC 9051 text: no `b'x'`, no `[Atom('x')]`
    (as STATUS INBOX ("x") once answered), and a tagged line of the grammar. Each example
    on a new connection, with a message in INBOX and INBOX selected."""
    name, uid, arguments = call
    mail.inject("user", b"Subject: one\r\n\r\nbody\r\n")
    line = (b"UID " if uid else b"") + name.encode()
    line += b"".join(b" " + _wire_argument(token) for token in arguments)
    with ImapWire(mail.imap_port) as wire:
        wire.login()
        assert wire.status("SELECT INBOX").startswith(b"OK")
        responses = wire.tagged(line)
    for response in responses:
        assert not REPR.search(response), response
    assert STATUS_LINE.fullmatch(responses[-1]), responses[-1]
