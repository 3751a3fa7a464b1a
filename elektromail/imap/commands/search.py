"""SEARCH and UID SEARCH (RFC 9051 §6.4.4), with ESEARCH (RFC 4731) and `$` (RFC 5182)."""

from __future__ import annotations

import dataclasses
from bisect import bisect_left
from itertools import filterfalse
from weakref import WeakKeyDictionary

from elektromail.imap import format as fmt
from elektromail.imap.commands.condstore import (
    highest_modseq_of,
    modseq_basis,
    start_condstore,
    uses_modseq,
    with_modseq,
)
from elektromail.imap.commands.fetch import unsolicited_fetch
from elektromail.imap.contexts import Evaluate, FetchNew, UpdateContext
from elektromail.imap.dispatch import SELECTED, Argument, Bad, Context, Done, No, advertise, command
from elektromail.imap.search import (
    BADCHARSET_CODE,
    BadCharset,
    SearchContext,
    SearchProgram,
    bind,
    parse_search,
    saved_result,
    search_response,
)
from elektromail.imap.search_eval import (
    Matcher,
    key_cost,
    leaf_test,
    store_query,
    uid_set,
)
from elektromail.imap.search_parse import (
    And,
    Everything,
    FlagKey,
    Key,
    Not,
    Nothing,
    Or,
    RecentKey,
    SetKey,
    SizeKey,
)
from elektromail.imap.tokens import String

advertise("ESEARCH", "SEARCHRES", "WITHIN", "CONTEXT=SEARCH")
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
    updating = "UPDATE" in program.returns
    if updating and ctx.tag in session.contexts:
        # RFC 5267 §4.3: a tag already naming an update context cannot name another
        raise Bad("Duplicate search update tag")
    modseq = uses_modseq(program.key)
    if modseq:  # a CONDSTORE enabling command (RFC 7162 §3.1)
        await start_condstore(ctx)
    if isinstance(program.key, FlagKey) and not updating:
        # SEEN, UNSEEN...: nothing to bind (no sequence set, no $), the view's flag index
        # answers; an update context needs the bound program, below
        uids = _with_flag(view, program.key, view.uids)
    else:
        uids, evaluate = await _matching_and_evaluator(ctx, program)
    if program.save:
        view.saved = saved_result(program, uids)
    numbers = uids if ctx.uid else [seq for seq in map(view.seq_of, uids) if seq is not None]
    response = search_response(program, numbers, tag=ctx.tag, uid=ctx.uid)
    if modseq:  # RFC 7162 §3.1.6: the highest mod-sequence of what is reported
        highest = await highest_modseq_of(ctx, modseq_basis(program, uids))
        response = with_modseq(response, program, highest, tag=ctx.tag, uid=ctx.uid)
    ctx.write(response)
    if updating:
        _keep_updated(ctx, evaluate, uids, program.update_fetch)
    return Done(f"{ctx.name} completed")


def _keep_updated(ctx: Context, evaluate: Evaluate, uids: list[int], fetch_items: tuple) -> None:
    """Keep the search's results up to date for the client (RFC 5267 §4.3), or say that
    it will not be (§4.3.1) when the session has as many contexts as it may."""
    session = ctx.session
    if session.contexts.full():
        code = fmt.format_response_code(fmt.NOUPDATE, fmt.string(ctx.tag))
        ctx.write(fmt.untagged_status(fmt.NO, "Too many contexts", code))
        return
    if session.view.touched is None:
        session.view.touched = set()
    context = UpdateContext(ctx.tag, evaluate, ctx.uid, set(uids))
    context.known_to = session.view.largest_uid()
    if fetch_items:  # RFC 5465 §7
        context.fetch = _update_fetch(ctx, fetch_items)
    session.contexts.add(context)


def _update_fetch(ctx: Context, items: tuple) -> FetchNew:
    session, services = ctx.session, ctx.services

    def closed() -> bool:
        return ctx.closed

    async def fetch_new(uids: list[int]) -> bytes:
        return await unsolicited_fetch(session, services, closed, uids, items)

    return fetch_new


@command("CANCELUPDATE", SELECTED)
async def cancelupdate(ctx: Context, args: list[Argument]) -> Done:
    """RFC 5267 §4.3.5: `CANCELUPDATE "tag" ...` ends those contexts' updates."""
    if not args or not all(isinstance(arg, String) and not arg.literal for arg in args):
        raise Bad("CANCELUPDATE needs one or more quoted tags")
    tags = [arg.decode("utf-8", "replace") for arg in args]
    contexts = ctx.session.contexts
    if not all(tag in contexts for tag in tags):
        raise No("Unknown tag")
    for tag in tags:
        contexts.cancel(tag)
    if not contexts:
        ctx.session.view.touched = None  # nobody watches: stop keeping changes
    return Done("Updates cancelled")


async def matching_uids(ctx: Context, program: SearchProgram) -> list[int]:
    """The UIDs of the selected mailbox's messages that `program` matches, ascending (the
    view's order). Raises Bad when the program cannot be bound to the view."""
    return (await _matching_and_evaluator(ctx, program))[0]


async def _matching_and_evaluator(
    ctx: Context, program: SearchProgram
) -> tuple[list[int], Evaluate]:
    """matching_uids, and the program as bound now, to evaluate later on given UIDs (an
    update context's: sequence sets keep the meaning they had when the command came)."""
    view = ctx.session.view
    try:
        matcher = bind(program, SearchContext.from_view(view, view.saved))
    except ValueError as e:
        raise Bad(f"invalid {ctx.name.removeprefix('UID ')}: {e}") from None

    async def evaluate(uids: set[int]) -> set[int]:
        # \Recent as it is now (NEW finds what arrived since); sets as they were bound
        now = dataclasses.replace(matcher.ctx, recent=frozenset(ctx.session.view.recent))
        return await _matching(ctx, matcher.key, now, set(uids))

    return await _all_matching(ctx, matcher), evaluate


async def _all_matching(ctx: Context, matcher: Matcher) -> list[int]:
    view = ctx.session.view
    key = matcher.key
    if isinstance(key, FlagKey):
        return _with_flag(view, key, matcher.ctx.uids)
    query = store_query(key)
    if query is not None and query[0] not in ("text", "body") and matcher.ctx.uids:
        # One key the store answers for the whole mailbox (FROM x): what it found, of the
        # bound UIDs, without a set of every UID to intersect with (see _known)
        found = await ctx.services.postoffice.search_uids(view.mailbox_id, query, None)
        return _known(matcher.ctx.uids, found)
    return sorted(await _matching(ctx, key, matcher.ctx, set(matcher.ctx.uids)))


def _with_flag(view, key: FlagKey, uids: list[int]) -> list[int]:
    """SEEN, UNSEEN...: the UIDs of `uids` (the view's, or a copy) from the view's flag index,
    ascending, without a pass over the messages."""
    having = view.uids_with_flag(key.flag)
    # `having` is a subset of the view's UIDs
    if key.present:
        return sorted(having)
    return list(filterfalse(having.__contains__, uids))


def _known(uids: list[int], found: list[int]) -> list[int]:
    """Those of `found` (any order) that are among `uids` (ascending), ascending: a few found
    are looked up by bisection, many by a set."""
    if len(found) * 16 < len(uids):
        count = len(uids)
        known = []
        for uid in sorted(found):
            at = bisect_left(uids, uid)
            if at < count and uids[at] == uid:
                known.append(uid)
        return known
    found.sort()  # in UID order already, mostly: a pass to see it
    if found == uids:  # every message matched (LARGER 100), or as many as are here
        return found
    return sorted(set(uids).intersection(found))


async def _matching(ctx: Context, key: Key, search: SearchContext, domain: set[int]) -> set[int]:
    """The UIDs of `domain` that match `key`, as a set: flags, sequence sets and \\Recent
    from the session's view, what SQL answers exactly (store/search.py) by one query each, and
    only what is left (BODY, TEXT) by loading messages and testing them. AND narrows the
    domain key by key, cheapest first, so a dear key tests only what the others left; OR
    tests each key on what the ones before it did not match. Depth is bounded by the parser."""
    if not domain or isinstance(key, Nothing):
        return set()
    if isinstance(key, Everything):
        return domain
    if isinstance(key, RecentKey):
        return domain & set(search.recent)
    if isinstance(key, SetKey):
        return domain.intersection(uid_set(key, search))
    if isinstance(key, FlagKey):
        having = ctx.session.view.uids_with_flag(key.flag)
        return domain & having if key.present else domain - having
    if isinstance(key, Not):
        return domain - await _matching(ctx, key.key, search, domain)
    if isinstance(key, And):
        for each in sorted(key.keys, key=key_cost):
            domain = await _matching(ctx, each, search, domain)
            if not domain:
                break
        return domain
    if isinstance(key, Or):
        found: set[int] = set()
        for each in sorted(key.keys, key=key_cost):
            hits = await _matching(ctx, each, search, domain - found)
            found |= hits
            if len(found) == len(domain):
                break
        return found
    if isinstance(key, SizeKey):
        sizes = await _sizes(ctx, domain)
        if key.larger:
            return {uid for uid in domain if sizes.get(uid, -1) > key.size}
        return {uid for uid in domain if uid in sizes and sizes[uid] < key.size}
    query = store_query(key)
    mailbox_id = ctx.session.view.mailbox_id
    if query is not None:
        # TEXT and BODY decode each body the first time they read it: only the domain's, when
        # other keys narrowed it (AND UID 5 TEXT x decodes one message, not the mailbox).
        narrowed = query[0] in ("text", "body") and len(domain) < len(search.uids)
        found = await ctx.services.postoffice.search_uids(
            mailbox_id, query, sorted(domain) if narrowed else None
        )
        return domain.intersection(found)
    return await _tested(ctx, key, search, domain)


# The sizes of the messages each view has searched by size: a UID's message never changes, so
# they are read once per session (WeakKeyDictionary: gone with the view).
_SIZES: WeakKeyDictionary[object, dict[int, int]] = WeakKeyDictionary()


async def _sizes(ctx: Context, domain: set[int]) -> dict[int, int]:
    """uid -> RFC822.SIZE for the messages of `domain` the store still has."""
    view = ctx.session.view
    known = _SIZES.setdefault(view, {})
    missing = sorted(domain.difference(known))
    if missing:
        rows = await ctx.services.postoffice.fetch_messages(view.mailbox_id, missing)
        known.update((row.uid, row.size) for row in rows)
    return known


async def _tested(ctx: Context, key: Key, search: SearchContext, domain: set[int]) -> set[int]:
    """The messages of `domain` that `key` matches, loaded in chunks and tested one by one."""
    test = leaf_test(key, search)
    uids = sorted(domain)
    mailbox_id = ctx.session.view.mailbox_id
    found = set()
    for start in range(0, len(uids), CHUNK):
        rows = await ctx.services.postoffice.fetch_messages(
            mailbox_id, uids[start : start + CHUNK], structure=True, raw=True
        )
        found.update(row.uid for row in rows if test(row))
    return found
