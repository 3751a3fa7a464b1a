"""The query language on the control API (`q` of GET /messages, elektromail.mailquery) and
GET /messages/wait: the first message stored after a cursor that matches a query, waited for on
the delivery events, with its links, codes and attachments (elektromail.extract).

`wait_for_message` and `found_json` are what the route runs; elektromail.testing's
`MailServer.wait_for` calls them too, so the in-process and the HTTP answers are the same.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.routing import BaseConverter

from elektromail import extract, mailquery, mime
from elektromail.http import live, render
from elektromail.http.jsonio import bad_request, query_bool, query_int, query_number, query_text
from elektromail.mailquery import Query, Term
from elektromail.postoffice import PostOffice
from elektromail.store import MessageSummary

DEFAULT_WAIT = 30.0  # seconds GET /messages/wait waits when `timeout` is not given
MAX_CURSOR = 10**18 - 1  # what query_int reads (18 digits)


def query_param(request) -> Query:
    """The parsed `q` parameter (none: every message); 400 saying what is wrong."""
    text = query_text(request, "q")
    if not text:
        return ()
    return parse_query(text)


def parse_query(text: str) -> Query:
    try:
        return mailquery.parse(text)
    except mailquery.QueryError as e:
        raise bad_request(f"parameter 'q': {e}") from None


def listing_query(request) -> Query:
    """`q` and the older `subject`, `from` and `to` filters of GET /messages, as one query."""
    terms = list(query_param(request))
    for name in ("subject", "from", "to"):
        value = query_text(request, name)
        if value:
            if len(value) > mailquery.MAX_LENGTH:
                raise bad_request(
                    f"parameter {name!r}: too long (at most {mailquery.MAX_LENGTH} characters)"
                )
            folded = value.casefold()
            terms.append(
                Term("subject", (folded,)) if name == "subject" else Term("address", (name, folded))
            )
    return tuple(terms)


def after_param(request) -> int:
    """The `after` cursor (none: 0, before every message)."""
    return query_int(request, "after", 0, MAX_CURSOR) or 0


def pattern_param(request) -> extract.CodePattern | None:
    text = query_text(request, "code_pattern")
    if not text:
        return None
    try:
        return extract.compile_pattern(text)
    except extract.PatternError as e:
        raise bad_request(f"parameter 'code_pattern': {e}") from None


@dataclass(frozen=True, slots=True)
class Found:
    """What a wait gives: the message (with its bytes) and its arrival number, or None when
    the time ran out; and the cursor to wait after next."""

    message: MessageSummary | None
    cursor: int
    timed_out: bool


async def wait_for_message(
    reactor,
    postoffice: PostOffice,
    query: Query,
    *,
    after: int = 0,
    timeout: float = DEFAULT_WAIT,
    user: str | None = None,
    mailbox: str | None = None,
    namespace: str | None = None,
    belongs: Callable[[str], bool] | None = None,
) -> Found:
    """The first message (of `user`, in mailboxes named `mailbox`, of `namespace`'s users)
    stored after cursor `after` that matches `query`, as soon as there is one; `timeout`
    seconds at most, woken by the delivery events (never polling; `belongs` says which
    users' deliveries may match). Found.cursor is the message's arrival number, or on a
    time-out `after` itself (nothing after it matched)."""
    start = after

    async def first_match() -> tuple[MessageSummary, int] | None:
        nonlocal start
        while True:
            page = await postoffice.query_messages(
                user, mailbox, query, after=start, limit=1, count=False, namespace=namespace
            )
            if not page.messages:
                return None
            summary, arrival = page.messages[0], page.arrivals[0]
            full = await postoffice.get_message(summary.user, summary.mailbox, summary.uid)
            if full is not None:
                return full, arrival
            start = arrival  # deleted in between: look after it

    found, timed_out = await live.wait_for(
        reactor,
        postoffice.events,
        first_match,
        1,
        timeout,
        user,
        mailbox,
        measure=lambda answer: 0 if answer is None else 1,
        belongs=belongs,
    )
    if found is None:
        return Found(None, after, True)
    return Found(found[0], found[1], timed_out)


def found_json(
    summary: MessageSummary,
    *,
    pattern: extract.CodePattern | None = None,
    mailto: bool = False,
    base: str = "",
    user: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A message with its bytes as the wait answers it: the message view without the raw
    text, plus `links`, `codes`, `code`, and attachment and raw download URLs (under
    `base`, the API's root; `user`: the message's user as the caller's `namespace` names it).
    extract.PatternError when the caller's pattern runs out of time on it."""
    out = render.detail(summary)
    out.pop("raw", None)
    out.pop("raw_base64", None)
    where = {"user": user or summary.user, "mailbox": summary.mailbox}
    if namespace is not None:
        out["user"] = where["user"]
        where["namespace"] = namespace
    address = urllib.parse.urlencode(where)
    out["raw_url"] = f"{base}/messages/{summary.uid}/raw?{address}"
    for item in out["attachments"]:
        item["url"] = f"{base}/messages/{summary.uid}/attachments/{item['index']}?{address}"
    out.update(extraction_json(summary, pattern=pattern, mailto=mailto))
    return out


def extraction_json(
    summary: MessageSummary, *, pattern: extract.CodePattern | None = None, mailto: bool = False
) -> dict[str, Any]:
    """`links`, `codes` and `code` of a message read with its bytes; extract.PatternError
    when the caller's pattern runs out of time on it."""
    assert summary.raw is not None
    parsed = mime.from_json(summary.structure)
    found = extract.extract_message(summary.raw, parsed, pattern=pattern, mailto=mailto)
    return {
        "links": [{"url": x.url, "text": x.text, "source": x.source} for x in found.links],
        "codes": [
            {
                "value": c.value,
                "kind": c.kind,
                "source": c.source,
                "context": c.context,
                "param": c.param,
            }
            for c in found.codes
        ],
        "code": found.code,
    }


class MessageUid(BaseConverter):
    """The <uid> of /messages/<uid:uid>: any path segment but "wait", so that other methods
    on /messages/wait answer 405 with `Allow: GET, HEAD`, not /messages/{uid}'s answers."""

    regex = r"(?!wait(?![^/]))[^/]+"


def api_extraction_json(
    summary: MessageSummary, *, pattern: extract.CodePattern | None = None, mailto: bool = False
) -> dict[str, Any]:
    """extraction_json with a 400 for a pattern that runs out of time."""
    try:
        return extraction_json(summary, pattern=pattern, mailto=mailto)
    except extract.PatternError as e:
        raise bad_request(f"parameter 'code_pattern': {e}") from None


def add_wait_routes(api) -> None:
    """GET /messages/wait on the ControlAPI `api`."""

    async def wait(request) -> dict[str, Any]:
        query = query_param(request)
        after = after_param(request)
        timeout = query_number(request, "timeout", 0, live.MAX_WAIT)
        pattern = pattern_param(request)
        mailto = query_bool(request, "mailto")
        user = api.query_user(request)
        mailbox = await api.mailbox_filter(request)
        namespace = api.scope(request)
        found = await wait_for_message(
            api.reactor,
            api.postoffice,
            query,
            after=after,
            timeout=DEFAULT_WAIT if timeout is None else timeout,
            user=user,
            mailbox=mailbox,
            namespace=namespace,
            belongs=api.belongs(request),
        )
        message = None
        if found.message is not None:
            shown = api.shown(request, found.message.user)
            try:
                message = found_json(
                    found.message, pattern=pattern, mailto=mailto, user=shown, namespace=namespace
                )
            except extract.PatternError as e:
                raise bad_request(f"parameter 'code_pattern': {e}") from None
        return {"message": message, "cursor": found.cursor, "timed_out": found.timed_out}

    api._add("/messages/wait", "GET", wait)
