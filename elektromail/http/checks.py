"""The message-check routes: `GET /messages/{uid}/checks` runs the checks of elektromail.checks
on a stored message (off the reactor, in a thread: they are pure code over the bytes), probing
its links only with `?links=1`; `/dkim/keys` shows and changes the DKIM keys they verify with."""

from __future__ import annotations

from typing import Any

from twisted.internet import threads

from elektromail import checks
from elektromail.checks import keys, links
from elektromail.http import linkcheck
from elektromail.http.jsonio import bad_request, query_bool, query_text, read_json
from elektromail.transcripts import NoTranscript, from_stored

MAX_KEYS_PER_PUT = 1000


def add_checks_routes(api) -> None:
    """Route the checks and key handlers on a ControlAPI (which owns `dkim_keys`)."""
    routes = CheckRoutes(api)
    api._add("/messages/<uid>/checks", "GET", routes.get_checks)
    api._add("/dkim/keys", "GET", routes.get_keys)
    api._add("/dkim/keys", "PUT", routes.put_keys)
    api._add("/dkim/keys", "DELETE", routes.delete_keys)


async def run_checks(
    reactor,
    raw: bytes,
    ring: keys.KeyRing,
    with_links: bool,
    timeout: float,
    cap: int,
    transaction: checks.Transaction | None = None,
) -> dict[str, Any]:
    """Every check of one message, as the route answers it (shared with elektromail.testing);
    `transaction`: what its SMTP transaction said (BODY=, SMTPUTF8), when it came over SMTP."""
    message = await threads.deferToThreadPool(
        reactor, reactor.getThreadPool(), checks.Message, raw, transaction
    )
    results = await threads.deferToThreadPool(
        reactor, reactor.getThreadPool(), checks.static_checks, message, ring
    )
    found, more = links.extract(message)
    if with_links:
        probes = await linkcheck.probe_all(reactor, found, timeout, cap)
        web = sum(1 for link in found if links.is_checkable(link.url))
        results.append(("links", links.findings(found, probes, web - len(probes), more)))
    else:
        results.append(("links", links.not_checked(found, more)))
    return checks.report(results)


async def transaction_of(postoffice, summary) -> checks.Transaction | None:
    """MAIL FROM's BODY= and SMTPUTF8 from the SMTP transcript kept with a message (None for
    a message that did not come over SMTP, or whose transcripts are off)."""
    found = await postoffice.get_transcript(summary.user, summary.mailbox, summary.uid)
    if found is None or found[0] is None:
        return None
    try:
        transcript = from_stored(found[0])
    except NoTranscript:
        return None
    mail_from = transcript.get("mail_from") or {}
    parameters = {
        name.upper(): value for name, value in (mail_from.get("parameters") or {}).items()
    }
    body = parameters.get("BODY")
    return checks.Transaction(
        body=body.upper() if isinstance(body, str) else None, smtputf8="SMTPUTF8" in parameters
    )


class CheckRoutes:
    def __init__(self, api) -> None:
        self.api = api

    async def get_checks(self, request, uid: str) -> dict[str, Any]:
        with_links = query_bool(request, "links")
        summary = await self.api._message(request, uid)
        transaction = await transaction_of(self.api.postoffice, summary)
        s = self.api.settings
        out = await run_checks(
            self.api.reactor,
            summary.raw,
            self.api.dkim_keys,
            with_links,
            s.link_check_timeout,
            s.link_check_max,
            transaction,
        )
        out.update(uid=summary.uid, user=summary.user, mailbox=summary.mailbox)
        return out

    async def get_keys(self, request) -> list[dict[str, str]]:
        return [key.to_json() for key in self.api.dkim_keys.keys()]

    async def put_keys(self, request) -> list[dict[str, str]]:
        """One key object or a list of them: each replaces the key of its selector and domain."""
        data = read_json(request)
        items = data if isinstance(data, list) else [data]
        if not items:
            raise bad_request("body: expected a key object or a non-empty list of them")
        if len(items) > MAX_KEYS_PER_PUT:
            raise bad_request(f"body: at most {MAX_KEYS_PER_PUT} keys at once")
        parsed = [
            _key_fields(item, i if isinstance(data, list) else None) for i, item in enumerate(items)
        ]
        ring = self.api.dkim_keys
        # Check every key before storing any: a bad one in a list changes nothing.
        for selector, domain, value, where in parsed:
            try:
                keys.check_name(selector, "selector")
                keys.check_name(domain, "domain")
                keys.record_from(value)
            except keys.DkimKeyError as e:
                raise bad_request(f"{where}{e}") from None
        try:
            stored = [ring.put(sel, dom, value) for sel, dom, value, _ in parsed]
        except keys.DkimKeyError as e:
            raise bad_request(str(e)) from None
        return [key.to_json() for key in stored]

    async def delete_keys(self, request) -> dict[str, Any]:
        selector = query_text(request, "selector")
        domain = query_text(request, "domain")
        for name, value in (("selector", selector), ("domain", domain)):
            if value is not None:
                try:
                    keys.check_name(value, name)
                except keys.DkimKeyError as e:
                    raise bad_request(f"parameter {name!r}: {e}") from None
        deleted = self.api.dkim_keys.delete(selector, domain)
        return {"ok": True, "deleted": deleted}


def _key_fields(item: Any, index: int | None) -> tuple[str, str, str, str]:
    where = "" if index is None else f"item {index}: "
    if not isinstance(item, dict):
        raise bad_request(f"{where}expected a JSON object with selector, domain and record")
    unknown = set(item) - {"selector", "domain", "record", "public_key"}
    if unknown:
        raise bad_request(f"{where}unknown field {sorted(unknown)[0]!r}")
    for name in ("selector", "domain"):
        if not isinstance(item.get(name), str) or not item[name].strip():
            raise bad_request(f"{where}field {name!r}: expected a non-empty string")
    record, pem = item.get("record"), item.get("public_key")
    if (record is None) == (pem is None):
        raise bad_request(f"{where}give one of 'record' (the TXT value) or 'public_key' (PEM)")
    value = record if record is not None else pem
    if not isinstance(value, str):
        name = "record" if record is not None else "public_key"
        raise bad_request(f"{where}field {name!r}: expected a string")
    return item["selector"], item["domain"], value, where
