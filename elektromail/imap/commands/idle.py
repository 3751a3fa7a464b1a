"""IDLE (RFC 9051 §6.3.13, RFC 2177): push changes as they happen until the client says DONE."""

from __future__ import annotations

from elektromail.imap.args import expect_count
from elektromail.imap.dispatch import AUTH, Argument, Bad, Context, Done, advertise, command

advertise("IDLE")


@command("IDLE", AUTH)
async def idle(ctx: Context, args: list[Argument]) -> Done:
    expect_count(args, 0, "IDLE")
    session = ctx.session

    def push() -> None:
        ctx.push(session.updates(allow_expunge=True))

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
