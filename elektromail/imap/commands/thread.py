"""THREAD and UID THREAD (RFC 5256 §3): ORDEREDSUBJECT, REFERENCES, and Dovecot's REFS.

The search criteria are SEARCH's (commands/search.py); the store gives each message's
threading facts (sortkeys.py, kept when it is parsed) and imap/threads.py builds the threads.
"""

from __future__ import annotations

from elektromail.imap.args import astring
from elektromail.imap.commands.search import matching_uids
from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.search import BADCHARSET_CODE, CHARSETS, parse_search
from elektromail.imap.threads import ALGORITHMS, ThreadMessage, format_thread, id_ranks, thread
from elektromail.imap.tokens import Atom, shown
from elektromail.imap.viewcache import cached

advertise(*(f"THREAD={name}" for name in ALGORITHMS))


@command("THREAD", SELECTED, uid=True, allows_expunge=False)
async def thread_command(ctx: Context, args: list[Argument]) -> Done:
    if len(args) < 2 or isinstance(args[0], list) or isinstance(args[1], list):
        raise Bad("invalid THREAD: an algorithm and a charset must come first")
    algorithm = astring(args[0], "threading algorithm").upper()
    charset, keys = astring(args[1], "charset"), args[2:]
    if algorithm not in ALGORITHMS:
        raise Bad(f"invalid THREAD: unknown threading algorithm {shown(args[0])}")
    if charset.upper() not in CHARSETS:
        raise No("unsupported charset", BADCHARSET_CODE)
    if not keys:
        raise Bad("invalid THREAD: at least one search key is needed")
    session = ctx.session
    view = session.view
    try:
        # as in SORT: the charset is THREAD's own argument, allowed after UTF8=ACCEPT too
        program = parse_search(
            [Atom("CHARSET"), Atom(charset), *keys], rev2=session.dialect.rev2, utf8=False
        )
    except ValueError as e:
        raise Bad(f"invalid THREAD: {e}") from None
    matched = frozenset(await matching_uids(ctx, program))
    answer = await cached(
        view, ("thread", algorithm, ctx.uid, matched), lambda: _threaded(ctx, algorithm, matched)
    )
    ctx.write(answer)
    return Done(f"{ctx.name} completed")


async def _threaded(ctx: Context, algorithm: str, matched: frozenset[int]) -> bytes:
    """The THREAD response for the messages `matched`."""
    view = ctx.session.view
    mailbox = await cached(view, "thread rows", lambda: _thread_rows(ctx))
    messages = [m for m in mailbox if m.uid in matched]
    if ctx.uid:
        number = int
    else:
        seq_of = view.seq_of
        messages = [m for m in messages if seq_of(m.uid) is not None]

        def number(uid: int) -> int:
            seq = seq_of(uid)
            assert seq is not None
            return seq

    ranks = id_ranks(mailbox) if algorithm == "REFS" else None
    return format_thread(thread(algorithm, messages, number, ranks))


async def _thread_rows(ctx: Context) -> list[ThreadMessage]:
    rows = await ctx.services.postoffice.thread_messages(ctx.session.view.mailbox_id)
    return [ThreadMessage(*row) for row in rows]
