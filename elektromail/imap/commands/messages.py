"""Commands that remove or duplicate messages: EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT,
COPY and MOVE (RFC 9051 §6.4.1-§6.4.3, §6.4.7, §6.4.8; RFC 6851; RFC 4315)."""

from __future__ import annotations

from dataclasses import dataclass

from elektromail.imap import format as fmt
from elektromail.imap.args import expect_count, mailbox_name, no_such_mailbox
from elektromail.imap.commands.common import resolve_uids, selected
from elektromail.imap.commands.condstore import highestmodseq_code
from elektromail.imap.dispatch import SELECTED, Argument, Context, Done, advertise, command
from elektromail.imap.seqset import format_sequence_set

advertise("UNSELECT", "MOVE", "UIDPLUS")


async def _expunge(ctx: Context, uids: list[int] | None) -> list[int]:
    """Remove \\Deleted messages and queue their EXPUNGE responses for this session;
    other sessions hear of it through the post office's event."""
    session = ctx.session
    if not session.view.may_hold_deleted():
        return []  # nothing is flagged \Deleted: no store round trip
    removed = await ctx.services.postoffice.expunge(selected(session), uids, origin=session)
    for uid in removed:
        session.view.note_expunged(uid)
    return removed


def parse_expunge(ctx: Context, args: list[Argument]) -> list[int] | None:
    """UID EXPUNGE's UIDs (RFC 4315 §2.1), or None for all of EXPUNGE."""
    if ctx.uid:
        expect_count(args, 1, "UID EXPUNGE uid-set")
        return resolve_uids(args[0], ctx.session.view, uid=True)
    expect_count(args, 0, "EXPUNGE")
    return None


@command("EXPUNGE", SELECTED, uid=True, read_write=True, parse=parse_expunge)
async def expunge(ctx: Context, uids: list[int] | None) -> Done:
    removed = await _expunge(ctx, uids) if uids is None or uids else []
    if removed and ctx.session.dialect.qresync:
        # RFC 7162 §3.2.7: "If at least one message got expunged and QRESYNC was enabled, the
        # server MUST send the updated per-mailbox modification sequence" in the tagged OK
        return Done(f"{ctx.name} completed", await highestmodseq_code(ctx))
    return Done(f"{ctx.name} completed")


@command("CLOSE", SELECTED)
async def close(ctx: Context, args: list[Argument]) -> Done:
    """Expunge silently (nothing when read-only), then leave the selected state."""
    expect_count(args, 0, "CLOSE")
    view = ctx.session.view
    if not view.readonly:
        await _expunge(ctx, None)
    ctx.session.unselect()
    return Done("CLOSE completed")


@command("UNSELECT", SELECTED)
async def unselect(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 0, "UNSELECT")
    ctx.session.unselect()
    return Done("UNSELECT completed")


@dataclass(frozen=True)
class Transfer:
    """What COPY and MOVE take: the messages (UIDs, ascending) and the target's name."""

    uids: list[int]
    mailbox: str


def parse_transfer(ctx: Context, args: list[Argument]) -> Transfer:
    expect_count(args, 2, f"{ctx.name} sequence-set mailbox")
    session = ctx.session
    uids = resolve_uids(args[0], session.view, ctx.uid)
    return Transfer(uids, mailbox_name(args[1], session.dialect))


@command("COPY", SELECTED, uid=True, parse=parse_transfer)
async def copy(ctx: Context, request: Transfer) -> Done:
    return await _copy_or_move(ctx, request, move=False)


@command("MOVE", SELECTED, uid=True, read_write=True, parse=parse_transfer)
async def move(ctx: Context, request: Transfer) -> Done:
    return await _copy_or_move(ctx, request, move=True)


async def _copy_or_move(ctx: Context, request: Transfer, *, move: bool) -> Done:
    session = ctx.session
    postoffice = ctx.services.postoffice
    target = await postoffice.find_mailbox(session.user, request.mailbox)
    if target is None:
        raise no_such_mailbox(request.mailbox, "Mailbox does not exist", fmt.TRYCREATE)
    if not request.uids:
        return Done(f"{ctx.name} completed")
    if move:
        uidvalidity, copied = await postoffice.move(
            selected(session), request.uids, target, origin=session
        )
    else:
        uidvalidity, copied = await postoffice.copy(selected(session), request.uids, target)
    code = None
    if copied:
        sources = format_sequence_set([s for s, _, _ in copied], sort=False)
        targets = format_sequence_set([t for _, t, _ in copied], sort=False)
        code = fmt.format_response_code(fmt.COPYUID, f"{uidvalidity} {sources} {targets}")
    if not move:
        return Done(f"{ctx.name} completed", code)
    if code:
        # RFC 6851 §4.3: COPYUID goes in an untagged OK before the EXPUNGE responses
        ctx.write(fmt.untagged_status(fmt.OK, "Moved", code))
    for uid, _, _ in copied:
        session.view.note_expunged(uid)
    if copied and session.dialect.qresync:  # as EXPUNGE does (RFC 7162 §3.2.7)
        return Done(f"{ctx.name} completed", await highestmodseq_code(ctx))
    return Done(f"{ctx.name} completed")


@command("CHECK", SELECTED)
async def check(ctx: Context, args: list[Argument]) -> Done:
    """RFC 3501 §6.4.1: a checkpoint; every change here is already committed, so it is a
    NOOP. RFC 9051 dropped CHECK, but rev1 clients such as mbsync still send it."""
    expect_count(args, 0, "CHECK")
    return Done("CHECK completed")
