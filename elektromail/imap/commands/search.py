"""SEARCH and UID SEARCH (RFC 9051 §6.4.4), with ESEARCH (RFC 4731) and `$` (RFC 5182)."""

from __future__ import annotations

from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.search import (
    BADCHARSET_CODE,
    CONTENT,
    BadCharset,
    SearchContext,
    bind,
    parse_search,
    saved_result,
    search_response,
)

advertise("ESEARCH", "SEARCHRES")
CHUNK = 500


@command("SEARCH", SELECTED, uid=True, allows_expunge=False)
async def search(ctx: Context, args: list[Argument]) -> Done:
    session = ctx.session
    view = session.view
    try:
        program = parse_search(args, rev2=session.dialect.rev2, utf8=session.dialect.utf8)
    except BadCharset as e:
        if e.save:  # RFC 5182 §2.1: a NO to SEARCH RETURN (SAVE) empties $
            view.saved = []
        raise No("unsupported charset", BADCHARSET_CODE) from None
    except ValueError as e:
        raise Bad(f"invalid SEARCH: {e}") from None
    try:
        matcher = bind(program, SearchContext.from_view(view, view.saved))
    except ValueError as e:
        raise Bad(f"invalid SEARCH: {e}") from None
    uids = matcher.candidates(view.flags)
    if matcher.needs_store:
        content = bool(program.needs & CONTENT)
        matched = []
        for start in range(0, len(uids), CHUNK):
            rows = await ctx.services.postoffice.fetch_messages(
                view.mailbox_id, uids[start : start + CHUNK], structure=content, raw=content
            )
            matched.extend(row.uid for row in rows if matcher(row))
        uids = matched
    if program.save:
        view.saved = saved_result(program, uids)
    numbers = uids if ctx.uid else [seq for seq in map(view.seq_of, uids) if seq is not None]
    ctx.write(search_response(program, numbers, tag=ctx.tag, uid=ctx.uid))
    return Done(f"{ctx.name} completed")
