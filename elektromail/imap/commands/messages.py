"""Commands that remove or duplicate messages: EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT,
COPY and MOVE (RFC 9051 §6.4.1-§6.4.3, §6.4.7, §6.4.8; RFC 6851; RFC 4315)."""

from __future__ import annotations

from elektromail.imap.args import expect_count, mailbox_name
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.dispatch import SELECTED, Done, No, advertise, command
from elektromail.imap.seqset import format_sequence_set

advertise("UNSELECT", "MOVE", "UIDPLUS")


async def _expunge(ctx, uids: list[int] | None) -> list[int]:
    """Remove \\Deleted messages and queue their EXPUNGE responses for this session;
    other sessions hear of it through the post office's event."""
    session = ctx.session
    removed = await ctx.services.postoffice.expunge(selected(session), uids, origin=session)
    for uid in removed:
        session.view.note_expunged(uid)
    return removed


@command("EXPUNGE", SELECTED, uid=True)
async def expunge(ctx, args) -> Done:
    if ctx.uid:
        expect_count(args, 1, "UID EXPUNGE uid-set")
        uids = resolve_uids(args[0], ctx.session.view, uid=True)
    else:
        expect_count(args, 0, "EXPUNGE")
        uids = None
    if ctx.session.view.readonly:
        raise No("mailbox is read-only", "READ-ONLY")
    if uids is None or uids:
        await _expunge(ctx, uids)
    return Done(f"{ctx.name} completed")


@command("CLOSE", SELECTED)
async def close(ctx, args) -> Done:
    """Expunge silently (nothing when read-only), then leave the selected state."""
    expect_count(args, 0, "CLOSE")
    view = ctx.session.view
    if not view.readonly:
        await _expunge(ctx, None)
    ctx.session.unselect()
    return Done("CLOSE completed")


@command("UNSELECT", SELECTED)
async def unselect(ctx, args) -> Done:
    expect_count(args, 0, "UNSELECT")
    ctx.session.unselect()
    return Done("UNSELECT completed")


@command("COPY", SELECTED, uid=True)
async def copy(ctx, args) -> Done:
    return await _copy_or_move(ctx, args, move=False)


@command("MOVE", SELECTED, uid=True)
async def move(ctx, args) -> Done:
    return await _copy_or_move(ctx, args, move=True)


async def _copy_or_move(ctx, args, move: bool) -> Done:
    expect_count(args, 2, f"{ctx.name} sequence-set mailbox")
    session = ctx.session
    view = session.view
    uids = resolve_uids(args[0], view, ctx.uid)
    name = mailbox_name(args[1], session.dialect)
    postoffice = ctx.services.postoffice
    target = await postoffice.find_mailbox(session.user, name)
    if target is None:
        raise No("Mailbox does not exist", "TRYCREATE")
    if move and view.readonly:
        raise No("mailbox is read-only", "READ-ONLY")
    if not uids:
        return Done(f"{ctx.name} completed")
    if move:
        uidvalidity, copied = await postoffice.move(selected(session), uids, target, origin=session)
    else:
        uidvalidity, copied = await postoffice.copy(selected(session), uids, target)
    code = None
    if copied:
        sources = format_sequence_set([s for s, _, _ in copied], sort=False)
        targets = format_sequence_set([t for _, t, _ in copied], sort=False)
        code = f"COPYUID {uidvalidity} {sources} {targets}"
    if not move:
        return Done(f"{ctx.name} completed", code)
    if code:
        # RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGE responses
        ctx.write(f"* OK [{code}] Moved\r\n".encode())
    for uid, _, _ in copied:
        view.note_expunged(uid)
    return Done(f"{ctx.name} completed")


@command("CHECK", SELECTED)
async def check(ctx, args) -> Done:
    """RFC 3501 §6.4.1: a checkpoint; every change here is already committed, so it is a
    NOOP. RFC 9051 dropped CHECK, but rev1 clients such as mbsync still send it."""
    expect_count(args, 0, "CHECK")
    return Done("CHECK completed")
