"""RFC 5322 address lists as IMAP address structures (RFC 9051 §7.5.2), and back to text in the
one form SEARCH FROM/TO/CC/BCC match against; never raises.

A fast path takes the common shapes ("a@b.c", "Name <a@b.c>", lists of them) with one regex;
anything else (quotes, comments, groups, routes, junk) goes through a small tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from elektromail.mime.model import GROUP_END, Address

# "a@b.c" or "Some Name <a@b.c>", comma-separated: no quotes, comments, groups or routes.
_ATOM = r'[^\s<>@,"():;\\\[\]]+'
_SIMPLE = rf"\s*(?:({_ATOM}(?:\s+{_ATOM})*)?\s*<({_ATOM})@({_ATOM})>|({_ATOM})@({_ATOM}))\s*"
_SIMPLE_ADDRESS_RE = re.compile(_SIMPLE, re.A)  # re.A: \s is ASCII white space, NBSP is not
_SIMPLE_LIST_RE = re.compile(f"{_SIMPLE}(?:,{_SIMPLE})*", re.A)
_WSP_RE = re.compile(r"\s+", re.A)
_LWSP_RE = re.compile(r"[ \t\r\n]+")
_ADDRESS_TOKEN_RE = re.compile(
    r'\s*(?:([<>,:;@])|([^\s"<>,:;@\[()]+|\))|"((?:[^"\\]|\\.)*)"?|(\[(?:[^\]\\]|\\.)*\]?)|(\())',
    re.S | re.A,
)
_COMMENT_CHAR_RE = re.compile(r"[()\\]")
_Token = tuple[str, str]  # ("a", atom or domain literal), ("q", unescaped quoted string), (c, c)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.S)
# RFC 5322 §3.2.3 atext, plus any non-ASCII character (RFC 6532 §3.2; Dovecot counts 8-bit bytes
# as atext too): a word made only of these needs no quotes.
_ATEXT_RE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\x80-\U0010ffff]+")


def tidy_spaces(text: str) -> str:
    """Each run of white space (SP, HTAB, CR, LF) one space, none at either end: how Dovecot
    writes a display name or subject in ENVELOPE."""
    return _LWSP_RE.sub(" ", text).strip(" ")


def unquote(quoted: str) -> str:
    """The text of a quoted string, its quoted-pairs undone (RFC 5322 §3.2.1)."""
    return _QUOTED_PAIR_RE.sub(r"\1", quoted) if "\\" in quoted else quoted


def parse_addresses(text: str) -> list[Address]:
    """An RFC 5322 address-list as IMAP address structures (RFC 9051 §7.5.2); never raises.

    Groups give a start marker Address(None, None, name, None) and an end marker
    Address(None, None, None, None); display names are unquoted; a quoted local-part keeps its
    quotes (it is the local-part production IMAP asks for); a missing domain gives host None; an
    empty local-part gives mailbox "" (None would be a group end). Comments are ignored, except
    that an address without a display name takes the last comment inside it as its name
    (`user@host (Real Name)`), as Dovecot and c-client do.
    """
    if m := _SIMPLE_ADDRESS_RE.fullmatch(text):  # the common shapes skip the tokenizer
        return [_simple_address(m)]
    if _SIMPLE_LIST_RE.fullmatch(text):
        return [_simple_address(m) for m in _SIMPLE_ADDRESS_RE.finditer(text)]
    comments: dict[int, str] = {}
    tokens = _address_tokens(text, comments)
    out: list[Address] = []
    i, n, in_group = 0, len(tokens), False
    while i < n:
        kind = tokens[i][0]
        if kind in ",;>":
            if kind == ";" and in_group:
                out.append(GROUP_END)
                in_group = False
            i += 1
            continue
        j = _skip_words(tokens, i)
        words, stop = tokens[i:j], tokens[j][0] if j < n else ""
        if stop == ":" and not in_group:
            out.append(Address(None, None, _phrase(words), None))
            i, in_group = j + 1, True
            continue
        if stop == "<":
            address, i = _angle_address(tokens, j + 1, _phrase(words) or None)
        elif stop == "@":
            host, end = _domain(tokens, j + 1)
            address = Address(_last_comment(comments, i, end), None, _local_part(words), host)
            i = end
        elif words:
            address, i = Address(_last_comment(comments, i, j), None, _phrase(words), None), j
        else:
            i = j + 1  # a stray ":" inside a group
            continue
        out.append(address)
        while i < n and tokens[i][0] not in ",;":
            i += 1  # junk after an address
    if in_group:
        out.append(GROUP_END)
    return out


def _simple_address(m: re.Match[str]) -> Address:
    name, mailbox, host, bare_mailbox, bare_host = m.groups()
    if mailbox is None:
        return Address(None, None, bare_mailbox, bare_host)
    return Address(name and _WSP_RE.sub(" ", name), None, mailbox, host)


def _address_tokens(text: str, comments: dict[int, str]) -> list[_Token]:
    """The tokens of `text`; `comments` gets, at the index of the token that follows them, the
    text of the last complete comment before that token (len(tokens) for one at the end)."""
    tokens: list[_Token] = []
    pos = 0
    while m := _ADDRESS_TOKEN_RE.match(text, pos):
        pos = m.end()
        special, atom, quoted, literal, _ = m.groups()
        if special or atom:
            tokens.append((special, special) if special else ("a", atom))
        elif quoted is not None:
            tokens.append(("q", unquote(quoted)))
        elif literal:
            tokens.append(("a", literal))
        else:
            start = pos
            pos, closed = _skip_comment(text, pos)
            if closed and text[start : pos - 1].strip():  # a blank comment names no one
                comments[len(tokens)] = tidy_spaces(unquote(text[start : pos - 1]))
    return tokens


def _skip_comment(text: str, pos: int) -> tuple[int, bool]:
    """The position after the comment whose "(" ends before `pos`, and whether it was closed
    (an unclosed comment runs to the end)."""
    depth = 1
    while m := _COMMENT_CHAR_RE.search(text, pos):
        pos = m.end() + (m.group() == "\\")
        depth += {"(": 1, ")": -1}.get(m.group(), 0)
        if depth == 0:
            return pos, True
    return len(text), False


def _last_comment(comments: dict[int, str], start: int, end: int) -> str | None:
    """The display name an addr-spec takes from a comment: RFC 5322 §3.4 calls the meaning of
    `user@host (Real Name)` unspecified and notes that "some legacy implementations interpret
    the comment"; Dovecot and c-client do, and so IMAP clients expect it. The last comment after
    the address's first token `start`, up to and including the one just before token `end`."""
    if not comments:
        return None
    return next((comments[k] for k in range(end, start, -1) if k in comments), None)


def _skip_words(tokens: list[_Token], i: int) -> int:
    while i < len(tokens) and tokens[i][0] in ("a", "q"):
        i += 1
    return i


def _phrase(words: list[_Token]) -> str:
    """A display name: its words joined by one space, white space inside quoted ones tidied
    (Dovecot's ENVELOPE does the same)."""
    return tidy_spaces(" ".join(text for _, text in words))


def _local_part(words: list[_Token]) -> str:
    local = ""
    for kind, text in words:
        if kind == "q":
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        # obs-local-part allows CFWS around the dots; other words keep a space between
        local += text if not local or local.endswith(".") or text.startswith(".") else " " + text
    return local


def _domain(tokens: list[_Token], i: int) -> tuple[str | None, int]:
    """The domain after "@": atoms joined across obs-domain's CFWS around dots; junk after."""
    if i >= len(tokens) or tokens[i][0] != "a":
        return None, i
    domain = tokens[i][1]
    i += 1
    while i < len(tokens) and tokens[i][0] == "a":
        if not (domain.endswith(".") or tokens[i][1].startswith(".")):
            break
        domain += tokens[i][1]
        i += 1
    return domain, i


def _angle_address(tokens: list[_Token], i: int, name: str | None) -> tuple[Address, int]:
    n = len(tokens)
    adl = None
    if i < n and tokens[i][0] == "@":  # obs-route: <@a,@b:user@host>
        k = i
        while k < n and tokens[k][0] not in ":>":
            k += 1
        if k < n and tokens[k][0] == ":":
            adl = "".join(text for _, text in tokens[i:k])
            i = k + 1
    j = _skip_words(tokens, i)
    mailbox, host = _local_part(tokens[i:j]), None
    if j < n and tokens[j][0] == "@":
        host, j = _domain(tokens, j + 1)
    if j < n and tokens[j][0] == ">":
        j += 1
    return Address(name, adl, mailbox, host), j


# -- back to text ---------------------------------------------------------------------------------


def write_addresses(addresses: Iterable[Address] | None) -> str:
    """An address list as RFC 5322 text in one normal form: `Name <mailbox@host>` (the name
    quoted when it is not all atext, an encoded-word left bare), `<mailbox@host>` without a
    name, `<@route:mailbox@host>`, a group as `Team: a, b;`, items joined by ", ".

    This is the text SEARCH FROM/TO/CC/BCC look in, the form Dovecot matches against: comments
    and folding gone, the display name the envelope shows. Encoded-words stay encoded.
    A host-less entry is a group start only when a group end follows (see model.py).
    """
    return join_address_list(addresses, _written_address, _written_phrase)


def join_address_list(
    addresses: Iterable[Address] | None,
    address_text: Callable[[Address], str],
    group_name: Callable[[str], str],
) -> str:
    """An address list as one line of text: each address as `address_text` writes it, a group
    as `Name: a, b;` (`Name:;` when empty) with its name by `group_name`, items joined by ", ",
    empty ones left out. A host-less entry starts a group only when a group end follows (see
    model.py); a group never closed is dropped."""
    addresses = list(addresses or ())
    ends = addresses.count(GROUP_END)
    items: list[str] = []
    group: list[str] | None = None
    for address in addresses:
        if address == GROUP_END:
            ends -= 1
            if group is not None:
                members = ", ".join(member for member in group[1:] if member)
                items.append(f"{group[0]}: {members};" if members else f"{group[0]}:;")
                group = None
        elif group is None and ends and address.host is None and address.name is None:
            group = [group_name(address.mailbox or "")]
        else:
            (items if group is None else group).append(address_text(address))
    return ", ".join(item for item in items if item)


def _written_address(address: Address) -> str:
    name = "" if address.name is None else _written_phrase(address.name)
    if not (address.adl or address.mailbox or address.host):
        return name
    route = address.adl + ":" if address.adl else ""
    spec = address.mailbox or '""'  # a quoted local-part is stored with its quotes
    if address.host:
        spec += "@" + address.host
    return f"{name} <{route}{spec}>" if name else f"<{route}{spec}>"


def _written_phrase(text: str) -> str:
    """A display name or group name as a phrase: bare when it is one atom or holds an
    encoded-word (RFC 2047 §5: an encoded-word cannot be quoted), else a quoted string."""
    if _ATEXT_RE.fullmatch(text) or "=?" in text:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
