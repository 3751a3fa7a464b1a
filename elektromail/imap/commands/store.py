"""STORE and UID STORE (RFC 9051 §6.4.6): flags and keywords, with or without .SILENT."""

from __future__ import annotations

from elektromail.imap import format as fmt
from elektromail.imap.args import atom, storable_flags
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.dispatch import SELECTED, Bad, Done, No, command

MODES = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}


@command("STORE", SELECTED, uid=True, allows_expunge=False)
async def store(ctx, args) -> Done:
    if len(args) < 3:
        raise Bad("expected STORE sequence-set [+|-]FLAGS[.SILENT] flags")
    session = ctx.session
    view = session.view
    item = atom(args[1], "store item").upper()
    silent = item.endswith(".SILENT")
    mode = MODES.get(item.removesuffix(".SILENT"))
    if mode is None:
        raise Bad(f"unknown STORE item {item}")
    flags = _flags(args[2:])
    uids = resolve_uids(args[0], view, ctx.uid)
    if view.readonly:
        raise No("mailbox is read-only")
    if not uids:
        return Done(f"{ctx.name} completed")
    result = await ctx.services.postoffice.store_flags(
        selected(session), uids, mode, flags, origin=session
    )
    out = []
    for uid, new in result:
        view.set_flags(uid, new)
        seq = view.seq_of(uid)
        if not silent and seq is not None:
            uid_part = b" UID %d" % uid if ctx.uid else b""
            out.append(b"* %d FETCH (FLAGS %s%s)\r\n" % (seq, fmt.format_flags(new), uid_part))
    ctx.write(b"".join(out))
    return Done(f"{ctx.name} completed")


def _flags(tokens: list) -> tuple[str, ...]:
    """A parenthesised flag list or bare flags; \\Recent cannot be stored (RFC 3501 §2.3.2)."""
    if len(tokens) == 1 and isinstance(tokens[0], list):
        tokens = tokens[0]
    return storable_flags(atom(token, "flag") for token in tokens)
