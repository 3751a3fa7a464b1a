"""RFC 5322 address lists as IMAP address structures (RFC 9051 §7.5.2); never raises.

A fast path takes the common shapes ("a@b.c", "Name <a@b.c>", lists of them) with one regex;
anything else (quotes, comments, groups, routes, junk) goes through a small tokenizer.
"""

from __future__ import annotations

import re

from elektromail.mime.model import GROUP_END, Address

# "a@b.c" or "Some Name <a@b.c>", comma-separated: no quotes, comments, groups or routes.
_ATOM = r'[^\s<>@,"():;\\\[\]]+'
_SIMPLE = rf"\s*(?:({_ATOM}(?:\s+{_ATOM})*)?\s*<({_ATOM})@({_ATOM})>|({_ATOM})@({_ATOM}))\s*"
_SIMPLE_ADDRESS_RE = re.compile(_SIMPLE, re.A)  # re.A: \s is ASCII white space, NBSP is not
_SIMPLE_LIST_RE = re.compile(f"{_SIMPLE}(?:,{_SIMPLE})*", re.A)
_WSP_RE = re.compile(r"\s+", re.A)
_ADDRESS_TOKEN_RE = re.compile(
    r'\s*(?:([<>,:;@])|([^\s"<>,:;@\[()]+|\))|"((?:[^"\\]|\\.)*)"?|(\[(?:[^\]\\]|\\.)*\]?)|(\())',
    re.S | re.A,
)
_COMMENT_CHAR_RE = re.compile(r"[()\\]")
_Token = tuple[str, str]  # ("a", atom or domain literal), ("q", unescaped quoted string), (c, c)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.S)


def unquote(quoted: str) -> str:
    """The text of a quoted string, its quoted-pairs undone (RFC 5322 §3.2.1)."""
    return _QUOTED_PAIR_RE.sub(r"\1", quoted) if "\\" in quoted else quoted


def parse_addresses(text: str) -> list[Address]:
    """An RFC 5322 address-list as IMAP address structures (RFC 9051 §7.5.2); never raises.

    Groups give a start marker Address(None, None, name, None) and an end marker
    Address(None, None, None, None); comments are ignored; display names are unquoted; a quoted
    local-part keeps its quotes (it is the local-part production IMAP asks for); a missing
    domain gives host None; an empty local-part gives mailbox "" (None would be a group end).
    """
    if m := _SIMPLE_ADDRESS_RE.fullmatch(text):  # the common shapes skip the tokenizer
        return [_simple_address(m)]
    if _SIMPLE_LIST_RE.fullmatch(text):
        return [_simple_address(m) for m in _SIMPLE_ADDRESS_RE.finditer(text)]
    tokens = _address_tokens(text)
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
            host, i = _domain(tokens, j + 1)
            address = Address(None, None, _local_part(words), host)
        elif words:
            address, i = Address(None, None, _phrase(words), None), j
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


def _address_tokens(text: str) -> list[_Token]:
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
            pos = _skip_comment(text, pos)
    return tokens


def _skip_comment(text: str, pos: int) -> int:
    depth = 1
    while m := _COMMENT_CHAR_RE.search(text, pos):
        pos = m.end() + (m.group() == "\\")
        depth += {"(": 1, ")": -1}.get(m.group(), 0)
        if depth == 0:
            return pos
    return len(text)


def _skip_words(tokens: list[_Token], i: int) -> int:
    while i < len(tokens) and tokens[i][0] in ("a", "q"):
        i += 1
    return i


def _phrase(words: list[_Token]) -> str:
    return " ".join(text for _, text in words)


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
