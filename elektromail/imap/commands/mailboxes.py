"""Mailbox commands of the authenticated state (RFC 9051 §6.3): SELECT, EXAMINE, LIST."""

from __future__ import annotations

import re

from elektromail.imap import format as fmt
from elektromail.imap.args import astring, encode_mailbox, expect_count, mailbox_name
from elektromail.imap.dispatch import AUTH, Done, No, command
from elektromail.imap.view import SYSTEM_FLAGS, MailboxView

DELIMITER = "/"
NONEXISTENT = "NONEXISTENT"


@command("SELECT", AUTH)
async def select(ctx, args) -> Done:
    return await _open(ctx, args, readonly=False)


@command("EXAMINE", AUTH)
async def examine(ctx, args) -> Done:
    return await _open(ctx, args, readonly=True)


async def _open(ctx, args, readonly: bool) -> Done:
    expect_count(args, 1, f"{ctx.name} mailbox")
    session = ctx.session
    name = mailbox_name(args[0], session.dialect)
    was_selected = session.view is not None
    session.unselect()  # a failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2)
    if was_selected and session.dialect.rev2:
        ctx.write(b"* OK [CLOSED] Previous mailbox closed\r\n")
    store = ctx.services.store
    mailbox = await store.get_mailbox(session.user.id, name)
    if mailbox is None:
        raise No("Mailbox does not exist", NONEXISTENT)
    early = session.watch(mailbox.id)
    row, messages = await store.mailbox_view(mailbox.id)
    view = MailboxView(
        row.id,
        row.name,
        row.uidvalidity,
        row.uidnext,
        ((uid, flags.split()) for uid, flags in messages),
        readonly,
    )
    session.select(view, early)
    ctx.write(_select_responses(view, session.dialect))
    return Done(f"{ctx.name} completed", "READ-ONLY" if readonly else "READ-WRITE")


def _select_responses(view: MailboxView, dialect) -> bytes:
    flags = fmt.format_flags([*SYSTEM_FLAGS, *view.keywords()])
    permanent = fmt.format_flags([] if view.readonly else [*SYSTEM_FLAGS, "\\*"])
    lines = [b"* FLAGS " + flags, b"* %d EXISTS" % view.exists]
    if not dialect.rev2:
        lines.append(b"* 0 RECENT")
        unseen = view.first_unseen()
        if unseen is not None:
            lines.append(b"* OK [UNSEEN %d] First unseen" % unseen)
    lines += [
        b"* OK [UIDVALIDITY %d] UIDs valid" % view.uidvalidity,
        b"* OK [UIDNEXT %d] Predicted next UID" % view.uidnext,
        b"* OK [PERMANENTFLAGS " + permanent + b"] Flags permitted",
    ]
    if dialect.rev2:
        name = encode_mailbox(view.name, dialect)
        lines.append(b'* LIST () "/" ' + fmt.astring(name, utf8_ok=True))
    return b"\r\n".join(lines) + b"\r\n"


@command("LIST", AUTH)
async def list_(ctx, args) -> Done:
    expect_count(args, 2, "LIST reference pattern")
    dialect = ctx.session.dialect
    reference = astring(args[0], "reference")
    pattern = astring(args[1], "pattern")
    if pattern == "":
        # RFC 9051 §6.3.9: the hierarchy delimiter and the root of the reference
        root = reference.split(DELIMITER, 1)[0] + DELIMITER if DELIMITER in reference else ""
        ctx.write(b'* LIST (\\Noselect) "/" ' + fmt.astring(root, utf8_ok=True) + b"\r\n")
        return Done("LIST completed")
    if not dialect.utf8_names:
        reference = _decode_pattern(reference)
        pattern = _decode_pattern(pattern)
    matcher = pattern_regex(reference + pattern)
    mailboxes = await ctx.services.store.list_mailboxes(ctx.session.user.id)
    names = [m.name for m in mailboxes]
    out = []
    for mailbox in sorted(mailboxes, key=_list_order):
        if not matcher.match(mailbox.name):
            continue
        attrs = ["\\HasChildren" if _has_children(mailbox.name, names) else "\\HasNoChildren"]
        if mailbox.special_use:
            attrs.append(mailbox.special_use)
        shown = encode_mailbox(mailbox.name, dialect)
        out.append(
            b"* LIST ("
            + " ".join(attrs).encode()
            + b') "/" '
            + fmt.astring(shown, utf8_ok=dialect.utf8_names)
            + b"\r\n"
        )
    ctx.write(b"".join(out))
    return Done("LIST completed")


def _decode_pattern(text: str) -> str:
    from elektromail.imap import mutf7

    try:
        return mutf7.decode(text)
    except ValueError:
        return text


def _list_order(mailbox) -> tuple[int, str]:
    return (0 if mailbox.name == "INBOX" else 1, mailbox.name)


def _has_children(name: str, names: list[str]) -> bool:
    prefix = name + DELIMITER
    return any(other.startswith(prefix) for other in names)


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """LIST wildcards (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
    delimiter; INBOX matches case-insensitively."""
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(char))
    regex = "".join(parts)
    head = pattern.split(DELIMITER, 1)[0]
    if head.upper() == "INBOX":
        regex = "INBOX" + regex[len(re.escape(head)) :]
    return re.compile(regex + r"\Z", re.DOTALL)
