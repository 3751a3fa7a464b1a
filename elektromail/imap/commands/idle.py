"""IDLE (RFC 9051 §6.3.13, RFC 2177): push changes as they happen until the client says DONE."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from elektromail.imap.args import expect_count
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, advertise, command

advertise("IDLE")
log = Logger()


def _lost(failure) -> None:
    """An update search that failed while idling (the store away): told next time."""
    log.debug("update context search failed while idling: {f}", f=failure.getErrorMessage())


@command("IDLE", AUTH)
async def idle(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 0, "IDLE")
    session = ctx.session

    def push() -> None:
        ctx.push(session.updates(allow_expunge=True))
        if session.contexts:  # SEARCH RETURN (UPDATE) results follow (RFC 5267 §4.3.2)
            Deferred.fromCoroutine(session.context_updates()).addCallbacks(ctx.push, _lost)

    ctx.continuation("idling")
    push()  # whatever happened before IDLE began
    session.on_change = push
    try:
        line = await ctx.read_line()
    finally:
        session.on_change = None
    if line.strip().upper() != b"DONE":
        raise Bad("expected DONE to end IDLE")
    return Done("IDLE terminated")
