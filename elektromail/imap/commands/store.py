"""STORE and UID STORE (RFC 9051 §6.4.6): flags and keywords, with or without .SILENT, and
CONDSTORE's UNCHANGEDSINCE modifier (RFC 7162 §3.1.3)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

from elektromail.imap import format as fmt
from elektromail.imap.args import atom, storable_flags
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.commands.condstore import (
    modified_code,
    parse_unchangedsince,
    start_condstore,
)
from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, command
from elektromail.imap.session import flags_responses

MODES = {"FLAGS": "set", "+FLAGS": "add", "-FLAGS": "remove"}


@dataclass(frozen=True)
class StoreRequest:
    uids: list[int]  # ascending
    mode: str  # "set", "add" or "remove"
    flags: tuple[str, ...]
    silent: bool
    unchangedsince: int | None = None


def parse_store(ctx: Context, args: list[Argument]) -> StoreRequest:
    unchangedsince = None
    if len(args) > 1 and isinstance(args[1], list):  # STORE set (modifiers) item flags
        unchangedsince = parse_unchangedsince(args[1])
        args = [args[0], *args[2:]]
    if len(args) < 3:
        raise Bad("expected STORE sequence-set [+|-]FLAGS[.SILENT] flags")
    item = atom(args[1], "store item").upper()
    silent = item.endswith(".SILENT")
    mode = MODES.get(item.removesuffix(".SILENT"))
    if mode is None:
        raise Bad(f"unknown STORE item {item}")
    flags = _flags(args[2:])
    uids = resolve_uids(args[0], ctx.session.view, ctx.uid)
    return StoreRequest(uids, mode, flags, silent, unchangedsince)


@command("STORE", SELECTED, uid=True, allows_expunge=False, read_write=True, parse=parse_store)
async def store(ctx: Context, request: StoreRequest) -> Done:
    conditional = request.unchangedsince is not None
    if conditional:
        await start_condstore(ctx)
    if not request.uids:
        return Done(f"{ctx.name} completed")
    session = ctx.session
    view = session.view
    result, modified = await ctx.services.postoffice.store_flags(
        selected(session),
        request.uids,
        request.mode,
        request.flags,
        origin=session,
        unchangedsince=request.unchangedsince,
    )
    condstore = session.dialect.condstore
    before = {uid: view.flags.get(uid) for uid, _, _ in result} if condstore else {}
    # a keyword new to the mailbox is announced before the FETCH that shows it, .SILENT or not
    # (and one that another session set on these messages, which the FETCH shows too)
    shown = chain(request.flags, *(new for _, new, _ in result))
    out = list(flags_responses(view)) if view.announce(shown) else []
    for uid, new, modseq in result:
        view.set_flags(uid, new)
        seq = view.seq_of(uid)
        if seq is None:
            continue
        if condstore:
            # RFC 7162 §3.1.3: with UNCHANGEDSINCE "an untagged FETCH response MUST be sent,
            # even if the .SILENT suffix is specified"; Dovecot sends one for every change
            # in a CONDSTORE-aware session: [UID] MODSEQ [FLAGS]
            if request.silent and not conditional and before.get(uid) == new:
                continue
            # RFC 7162 §3.2.4: a QRESYNC-aware session's FETCH responses carry the UID
            with_uid = ctx.uid or session.dialect.qresync
            items = [(b"UID", b"%d" % uid)] if with_uid else []
            items.append((b"MODSEQ", b"(%d)" % modseq))
            if not request.silent:
                items.append((b"FLAGS", fmt.format_flags(view.shown_flags(uid, new))))
            out.append(fmt.format_fetch(seq, items))
        elif not request.silent:
            items = [(b"FLAGS", fmt.format_flags(view.shown_flags(uid, new)))]
            if ctx.uid:
                items.append((b"UID", b"%d" % uid))
            out.append(fmt.format_fetch(seq, items))
    ctx.write(b"".join(out))
    if modified:
        return Done("Conditional store failed", modified_code(view, modified, uid=ctx.uid))
    return Done(f"{ctx.name} completed")


def _flags(tokens: list[Argument]) -> tuple[str, ...]:
    """A parenthesised flag list or bare flags; \\Recent cannot be stored (RFC 3501 §2.3.2)."""
    if len(tokens) == 1 and isinstance(tokens[0], list):
        tokens = tokens[0]
    return storable_flags(atom(token, "flag") for token in tokens)
