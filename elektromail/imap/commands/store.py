"""STORE and UID STORE (RFC 9051 §6.4.6): flags and keywords, with or without .SILENT."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from elektromail.imap import format as fmt
from elektromail.imap.args import atom, storable_flags
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, command
from elektromail.imap.session import flags_responses

MODES = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}


@dataclass(frozen=True)
class StoreRequest:
    uids: list[int]  # ascending
    mode: str  # "set", "add" or "remove"
    flags: tuple[str, ...]
    silent: bool


def parse_store(ctx: Context, args: list[Argument]) -> StoreRequest:
    if len(args) < 3:
        raise Bad("expected STORE sequence-set [+|-]FLAGS[.SILENT] flags")
    item = atom(args[1], "store item").upper()
    silent = item.endswith(".SILENT")
    mode = MODES.get(item.removesuffix(".SILENT"))
    if mode is None:
        raise Bad(f"unknown STORE item {item}")
    flags = _flags(args[2:])
    uids = resolve_uids(args[0], ctx.session.view, ctx.uid)
    return StoreRequest(uids, mode, flags, silent)


@command("STORE", SELECTED, uid=True, allows_expunge=False, read_write=True, parse=parse_store)
async def store(ctx: Context, request: StoreRequest) -> Done:
    if not request.uids:
        return Done(f"{ctx.name} completed")
    session = ctx.session
    view = session.view
    result, _ = await ctx.services.postoffice.store_flags(
        selected(session), request.uids, request.mode, request.flags, origin=session
    )
    # a keyword new to the mailbox is announced before the FETCH that shows it, .SILENT or not
    # (and one that another session set on these messages, which the FETCH shows too)
    shown = chain(request.flags, *(new for _, new, _ in result))
    out = list(flags_responses(view)) if view.announce(shown) else []
    for uid, new, _ in result:
        view.set_flags(uid, new)
        seq = view.seq_of(uid)
        if not request.silent and seq is not None:
            items = [(b"FLAGS", fmt.format_flags(view.shown_flags(uid, new)))]
            if ctx.uid:
                items.append((b"UID", b"%d" % uid))
            out.append(fmt.format_fetch(seq, items))
    ctx.write(b"".join(out))
    return Done(f"{ctx.name} completed")


def _flags(tokens: list[Argument]) -> tuple[str, ...]:
    """A parenthesised flag list or bare flags; \\Recent cannot be stored (RFC 3501 §2.3.2)."""
    if len(tokens) == 1 and isinstance(tokens[0], list):
        tokens = tokens[0]
    return storable_flags(atom(token, "flag") for token in tokens)
