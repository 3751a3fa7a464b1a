"""LIST with its extensions (RFC 9051 §6.3.9: LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN)
and the IMAP4rev1-only LSUB (RFC 3501 §6.3.9).

What to list is decided in `listmatch` (pure); this module parses the options, takes one store
snapshot and formats the answer for the session's dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elektromail.imap import format as fmt
from elektromail.imap.args import (
    astring,
    atom,
    expect_count,
    format_mailbox,
    list_pattern,
    paren_list,
)
from elektromail.imap.commands.status import parse_items, status_line
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, advertise, command
from elektromail.imap.listmatch import Entry, Pattern, Selection, select
from elektromail.imap.session import Dialect
from elektromail.imap.tokens import Atom
from elektromail.names import DELIMITER
from elektromail.store.db import MailboxCounts, MailboxListing

advertise("LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN")

_DELIMITER_FIELD = b'"' + DELIMITER.encode() + b'"'


@dataclass
class ListOptions:
    """What a LIST asked for; `extended` once any RFC 5258 syntax was used."""

    extended: bool = False
    selection: Selection = field(default_factory=Selection)
    subscribed: bool = False  # return \Subscribed
    children: bool = False  # return \HasChildren / \HasNoChildren
    special_use: bool = False  # return special-use attributes
    status: tuple[str, ...] = ()  # LIST-STATUS items


@command("LIST", AUTH)
async def list_(ctx: Context, args: list[Argument]) -> Done:
    dialect = ctx.session.dialect
    options, reference_token, pattern_tokens = parse_list(args, dialect)
    if not options.extended and _is_empty(pattern_tokens[0]):
        # RFC 9051 §6.3.9: the delimiter and the root of the reference, echoed as sent
        list_pattern(reference_token, dialect, "reference")  # BAD for 8-bit in IMAP4rev1
        reference = astring(reference_token, "reference")
        root = reference.split(DELIMITER, 1)[0] + DELIMITER if DELIMITER in reference else ""
        ctx.write(fmt.untagged(b"LIST (\\Noselect) " + _DELIMITER_FIELD + b" " + _raw_name(root)))
        return Done("LIST completed")
    patterns = _patterns(reference_token, pattern_tokens, dialect)
    if not patterns:
        return Done("LIST completed")
    listing = await ctx.services.postoffice.mailbox_listing(
        ctx.session.user, counts=bool(options.status)
    )
    ctx.write(_list_answer(listing, patterns, options, dialect))
    return Done("LIST completed")


@command("LSUB", AUTH)
async def lsub(ctx: Context, args: list[Argument]) -> Done:
    """Subscribed names (RFC 3501 §6.3.9); a parent of a subscribed name that `%` stops at is
    shown \\Noselect. Not an IMAP4rev2 command (RFC 9051 Appendix E item 19)."""
    dialect = ctx.session.dialect
    if dialect.rev2:
        raise Bad("LSUB is not an IMAP4rev2 command; use LIST (SUBSCRIBED)")
    expect_count(args, 2, "LSUB reference pattern")
    patterns = _patterns(args[0], [args[1]], dialect)
    if not patterns:
        return Done("LSUB completed")
    listing = await ctx.services.postoffice.mailbox_listing(ctx.session.user)
    existing = {m.name: m for m in listing.mailboxes}
    selection = Selection(subscribed=True, recursive=True)
    out = []
    for entry in _select(listing, patterns, selection):
        attrs = [] if entry.meets else ["\\Noselect"]
        mailbox = existing.get(entry.name)
        if mailbox is not None and mailbox.special_use:
            attrs += mailbox.special_use.split()
        out.append(list_line(b"LSUB", attrs, entry.name, dialect))
    ctx.write(b"".join(out))
    return Done("LSUB completed")


# --- arguments ----------------------------------------------------------------------------


def parse_list(args: list, dialect) -> tuple[ListOptions, object, list]:
    """[(selection options)] reference (pattern | (patterns)) [RETURN (return options)]."""
    options = ListOptions()
    rest = list(args)
    if rest and isinstance(rest[0], list):
        options.extended = True
        options.selection = _selection_options(rest.pop(0))
    if len(rest) < 2:
        raise Bad("expected LIST [(options)] reference pattern [RETURN (options)]")
    reference, patterns = rest[0], rest[1]
    rest = rest[2:]
    if isinstance(patterns, list):
        options.extended = True
        pattern_tokens = patterns
    else:
        pattern_tokens = [patterns]
    if rest:
        if len(rest) != 2 or not isinstance(rest[0], Atom) or rest[0].upper() != "RETURN":
            raise Bad("expected RETURN (options) after the LIST patterns")
        options.extended = True
        _return_options(paren_list(rest[1], "return options"), options, dialect)
    if options.selection.subscribed:
        options.subscribed = True  # implied (RFC 9051 §6.3.9.1)
    if options.selection.special_use:
        options.special_use = True  # implied (RFC 6154 §2)
    for token in [reference, *pattern_tokens]:
        astring(token, "LIST reference and patterns")  # BAD for a list or NIL-less junk
    return options, reference, pattern_tokens


def _selection_options(tokens: list) -> Selection:
    names = {atom(token, "selection option").upper() for token in tokens}
    unknown = names - {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}
    if unknown:
        raise Bad(f"unknown LIST selection option {sorted(unknown)[0]}")
    if "RECURSIVEMATCH" in names and "SUBSCRIBED" not in names:
        # RFC 9051 §6.3.9.1: it needs a base option (REMOTE and SPECIAL-USE are not)
        raise Bad("RECURSIVEMATCH needs the SUBSCRIBED selection option")
    # REMOTE: there are no remote mailboxes, so it changes nothing
    return Selection(
        subscribed="SUBSCRIBED" in names,
        special_use="SPECIAL-USE" in names,
        recursive="RECURSIVEMATCH" in names,
    )


def _return_options(tokens: list, options: ListOptions, dialect) -> None:
    i = 0
    while i < len(tokens):
        name = atom(tokens[i], "return option").upper()
        i += 1
        if name == "SUBSCRIBED":
            options.subscribed = True
        elif name == "CHILDREN":
            options.children = True
        elif name == "SPECIAL-USE":
            options.special_use = True
        elif name == "STATUS":
            if i >= len(tokens):
                raise Bad("STATUS return option needs a list of status items")
            options.status = parse_items(tokens[i], dialect)
            i += 1
        else:
            raise Bad(f"unknown LIST return option {name}")


def _is_empty(token: object) -> bool:
    return isinstance(token, bytes) and token == b""


def _patterns(reference_token: object, pattern_tokens: list, dialect) -> list[Pattern]:
    """Canonical patterns: the reference followed by each pattern (RFC 9051 §6.3.9 leaves the
    interpretation to the server; this is the "normal" one). Empty patterns and ones that
    cannot be decoded are ignored."""
    reference = list_pattern(reference_token, dialect, "reference")
    if reference is None:
        return []
    patterns = []
    for token in pattern_tokens:
        text = list_pattern(token, dialect, "pattern")
        if text:
            patterns.append(Pattern(reference + text))
    return patterns


# --- responses ----------------------------------------------------------------------------


def _select(listing: MailboxListing, patterns: list[Pattern], selection: Selection):
    return select(
        [m.name for m in listing.mailboxes],
        listing.subscriptions,
        [m.name for m in listing.mailboxes if m.special_use],
        patterns,
        selection,
    )


# Recent LIST answers without STATUS, by everything they are made of: a client that lists
# again and again (imaptest does, between every few commands) gets the same bytes back for a
# dictionary lookup while its mailboxes and subscriptions stay as they are.
_ANSWERS: dict[tuple, bytes] = {}
_ANSWERS_KEPT = 256


def _list_answer(
    listing: MailboxListing, patterns: list[Pattern], options: ListOptions, dialect: Dialect
) -> bytes:
    if options.status:  # the counts change all the time
        return b"".join(_list_responses(listing, patterns, options, dialect))
    key = (
        tuple((m.name, m.special_use) for m in listing.mailboxes),
        listing.subscriptions,
        tuple(p.text for p in patterns),
        (options.extended, options.selection, options.subscribed, options.children),
        options.special_use,
        dialect.rev2,
        dialect.utf8,
    )
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = b"".join(_list_responses(listing, patterns, options, dialect))
        if len(_ANSWERS) >= _ANSWERS_KEPT:
            _ANSWERS.clear()
        _ANSWERS[key] = answer
    return answer


def _list_responses(
    listing: MailboxListing, patterns: list[Pattern], options: ListOptions, dialect
) -> list[bytes]:
    """LIST lines, each followed by its STATUS line when asked for (RFC 5819: only for
    mailboxes that exist and satisfy the selection options)."""
    mailboxes = {m.name: m for m in listing.mailboxes}
    # IMAP4rev2 answers with everything it knows; IMAP4rev1's extended LIST only with what
    # was asked for, as Dovecot does. The basic LIST has always shown both.
    full = dialect.rev2 or not options.extended
    out = []
    for entry in _select(listing, patterns, options.selection):
        mailbox = mailboxes.get(entry.name)
        attrs = []
        if options.subscribed and entry.subscribed:
            attrs.append("\\Subscribed")
        if not entry.exists:
            attrs.append("\\NonExistent" if dialect.rev2 or options.extended else "\\Noselect")
        if full or options.children or (not entry.exists and entry.has_children):
            attrs.append("\\HasChildren" if entry.has_children else "\\HasNoChildren")
        if mailbox is not None and mailbox.special_use and (full or options.special_use):
            attrs += mailbox.special_use.split()
        line = list_line(b"LIST", attrs, entry.name, dialect, _extended_data(entry))
        out.append(line)
        if options.status and mailbox is not None and entry.meets:
            counts = listing.counts.get(mailbox.id) or MailboxCounts()
            out.append(status_line(entry.name, mailbox, counts, options.status, dialect))
    return out


def _extended_data(entry: Entry) -> bytes:
    # the form Dovecot sends; RFC 9051 §6.3.9.6 shows the tag quoted, either is an astring
    return b' (CHILDINFO ("SUBSCRIBED"))' if entry.childinfo else b""


def list_line(kind: bytes, attrs: list[str], name: str, dialect, extra: bytes = b"") -> bytes:
    """`* LIST (attrs) "/" name extra`: LIST and LSUB here, NOTIFY's LIST (commands/notify.py)."""
    flags = " ".join(attrs).encode("ascii")
    return fmt.untagged(
        kind
        + b" ("
        + flags
        + b") "
        + _DELIMITER_FIELD
        + b" "
        + format_mailbox(name, dialect)
        + extra
    )


def _raw_name(text: str) -> bytes:
    """A name echoed as the client sent it (the root of a LIST reference)."""
    return fmt.astring(text, utf8_ok=True)
