"""`POST /messages/{uid}/release`: send a stored message, its bytes unchanged, to a real SMTP
server (--relay-host) for the recipients the request names or those it first came for; the
upstream's reply comes back as JSON, and so does its refusal. Its OpenAPI path and schemas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from elektromail import relay
from elektromail.http.jsonio import bad_request, read_json
from elektromail.http.openapi_schemas import STRING, json_body, nullable, obj, ref
from elektromail.transcripts import NoTranscript, from_stored

if TYPE_CHECKING:
    from elektromail.http.app import ControlAPI

log = Logger()

FIELDS = ("to", "from")


def add_release_routes(api: ControlAPI) -> None:
    """Route the release handler on `api` (ControlAPI._add_routes calls this)."""
    routes = ReleaseRoutes(api)
    api._add("/messages/<uid>/release", "GET", routes.plan)
    api._add("/messages/<uid>/release", "POST", routes.release)


def parse_release(request) -> tuple[list[str] | None, str | None]:
    """(`to`, `from`) of a release's body, each None when left out (no body and `{}` too)."""
    request.content.seek(0)
    if not request.content.read().strip():
        return None, None
    body = read_json(request)
    if not isinstance(body, dict):
        raise bad_request('body: expected a JSON object such as {"to": ["bob@example.com"]}')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise bad_request(f"field {unknown[0]!r}: unknown; a release takes 'to' and 'from'")
    try:
        to = None if body.get("to") is None else relay.check_recipients(body["to"])
        sender = None if body.get("from") is None else relay.check_sender(body["from"])
    except relay.ReleaseError as e:
        raise bad_request(e.message) from None
    return to, sender


async def envelope(postoffice, summary) -> tuple[str, list[str]]:
    """The envelope a message first came with (relay.original_envelope), from its stored
    SMTP transcript when it has one."""
    found = await postoffice.get_transcript(summary.user, summary.mailbox, summary.uid)
    transcript = None
    if found is not None and found[0] is not None:
        try:
            transcript = from_stored(found[0])
        except NoTranscript:
            pass
    return relay.original_envelope(transcript, summary.raw)


async def release_message(
    reactor, settings, postoffice, summary, to: list[str] | None, sender: str | None, clock=None
) -> dict[str, Any]:
    """Release one stored message (shared with elektromail.testing): the Released JSON, or
    relay.ReleaseError."""
    relay.require_relay(settings)  # before anything else: nothing can be sent
    first_sender, first_to = await envelope(postoffice, summary)
    if to is None:
        if not first_to:
            raise relay.ReleaseError(
                400,
                "field 'to': required, since the message has no recipients to go back to"
                " (no SMTP transcript, no To or Cc header)",
            )
        try:
            to = relay.check_recipients(first_to)
        except relay.ReleaseError as e:
            raise relay.ReleaseError(
                400, f"the message's own recipients cannot be used ({e.message}): give 'to'"
            ) from None
    if sender is None:
        try:
            sender = relay.check_sender(first_sender)
        except relay.ReleaseError:
            sender = ""  # an address the client cannot send (non-ASCII): the null path
    outcome = await relay.release(reactor, settings, summary.raw, sender, to, clock=clock)
    log.info(
        "released message {uid} of {user}/{mailbox} to {count} recipient(s): {code}",
        uid=summary.uid,
        user=summary.user,
        mailbox=summary.mailbox,
        count=len(to),
        code=outcome.code,
    )
    return {
        "relay": _where(settings),
        "from": sender,
        "recipients": _recipients(outcome.recipients),
        "reply": {"code": outcome.code, "message": outcome.message},
    }


def failure_json(error: relay.ReleaseError) -> dict[str, Any]:
    out: dict[str, Any] = {"error": error.message}
    if error.status in (502, 504):
        code, text = error.upstream if error.upstream else (None, None)
        out["upstream"] = None if error.upstream is None else {"code": code, "message": text}
        out["recipients"] = _recipients(error.recipients)
    return out


def _recipients(rows) -> list[dict[str, Any]]:
    return [{"address": a, "code": c, "message": m, "accepted": 200 <= c < 300} for a, c, m in rows]


def _where(settings) -> str:
    host, port = settings.relay_host, relay.relay_port(settings)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ReleaseRoutes:
    def __init__(self, api: ControlAPI) -> None:
        self.api = api

    async def plan(self, request, uid: str) -> dict[str, Any]:
        """What a release without a body would send, for the web inbox's dialog."""
        api = self.api
        summary = await api._message(request, uid)
        sender, to = await envelope(api.postoffice, summary)
        settings = api.settings
        return {
            "relay": None if settings.relay_host is None else _where(settings),
            "from": sender,
            "to": to,
        }

    async def release(self, request, uid: str):
        from elektromail.http.app import JSONReply

        api = self.api
        to, sender = parse_release(request)
        summary = await api._message(request, uid)
        try:
            return await release_message(
                api.reactor, api.settings, api.postoffice, summary, to, sender
            )
        except relay.ReleaseError as e:
            return JSONReply(failure_json(e), e.status)


# --- OpenAPI ---------------------------------------------------------------------------------


def openapi_paths(message_params: list[dict[str, Any]]) -> dict[str, Any]:
    """The route's entry, for openapi._paths."""
    from elektromail.http.openapi import _op

    failed = json_body(
        ref("schemas", "ReleaseFailure"),
        "The upstream refused (its reply in `upstream`), could not be reached, or the "
        "message has 8-bit bytes and the upstream does not offer 8BITMIME.",
    )
    timed_out = json_body(
        ref("schemas", "ReleaseFailure"), "The upstream took longer than --relay-timeout."
    )
    error = ref("schemas", "Error")
    op = _op(
        "messages",
        "Send a stored message to a real SMTP server (--relay-host)",
        ("200", json_body(ref("schemas", "Released"), "The upstream took it.")),
        ("BadRequest", "Unauthorized", "NotFound", "TooLarge"),
        operationId="releaseMessage",
        description="The stored bytes go unchanged (dot-stuffed on the wire only, with "
        "BODY=8BITMIME for 8-bit mail) to the relay --relay-host names, once, no retries. "
        "`to` (at most 100 plain ASCII addresses) replaces the recipients the message came "
        "for: the accepted RCPT TO of its SMTP transcript, or without one its To and Cc "
        "headers. `from` replaces MAIL FROM (its transcript's, or the Return-Path or From "
        "header's address; empty: the null reverse-path). No body or `{}`: as it came.",
        parameters=message_params,
        requestBody={
            "required": False,
            **json_body(ref("schemas", "Release"), "Who to send it to."),
        },
    )
    op["responses"].update(
        {
            "403": json_body(error, "A recipient --relay-allow does not match (named)."),
            "409": json_body(error, "No relay is set: start with --relay-host."),
            "422": json_body(
                error,
                "The message has a CR or LF outside a CRLF, which SMTP may not carry "
                "(RFC 5321 §2.3.8): it is not sent rather than changed.",
            ),
            "502": failed,
            "504": timed_out,
        }
    )
    plan = _op(
        "messages",
        "Where a release of the message would go",
        ("200", json_body(ref("schemas", "ReleasePlan"), "The relay and the envelope.")),
        ("BadRequest", "Unauthorized", "NotFound"),
        operationId="getReleasePlan",
        description="The relay (null: none is set) and the MAIL FROM and recipients a POST "
        "without a body would use; nothing is sent.",
        parameters=message_params,
    )
    return {"/messages/{uid}/release": {"get": plan, "post": op}}


def openapi_schemas() -> dict[str, Any]:
    """The Release, ReleasePlan, Released and ReleaseFailure schemas."""
    address = {
        "type": "string",
        "maxLength": relay.MAX_ADDRESS,
        "pattern": r"^[^\s<>@]+@[^\s<>@]+$",
        "description": "A plain address such as bob@example.com (ASCII, no display name).",
    }
    recipient = obj(
        {
            "address": STRING,
            "code": {"type": "integer", "description": "The upstream's reply to RCPT TO."},
            "message": STRING,
            "accepted": {"type": "boolean", "description": "The reply was 2xx."},
        },
        ("address", "code", "message", "accepted"),
    )
    recipients = {"type": "array", "items": recipient}
    return {
        "Release": obj(
            {
                "to": nullable(
                    {
                        "type": "array",
                        "items": address,
                        "minItems": 1,
                        "maxItems": relay.MAX_RECIPIENTS,
                        "description": "Null or left out: the recipients it came for.",
                    }
                ),
                "from": nullable(
                    {
                        **address,
                        "pattern": r"^([^\s<>@]+@[^\s<>@]+)?$",
                        "description": "MAIL FROM; empty: the null reverse-path.",
                    }
                ),
            },
            (),
            additionalProperties=False,
        ),
        "ReleasePlan": obj(
            {
                "relay": nullable(
                    {"type": "string", "description": "`host:port`; null: no --relay-host."}
                ),
                "from": {"type": "string", "description": "MAIL FROM; empty: the null path."},
                "to": {
                    "type": "array",
                    "items": STRING,
                    "description": "The recipients it came for (may be empty).",
                },
            },
            ("relay", "from", "to"),
        ),
        "Released": obj(
            {
                "relay": {"type": "string", "description": "`host:port` of the upstream."},
                "from": {"type": "string", "description": "The MAIL FROM sent."},
                "recipients": recipients,
                "reply": obj(
                    {
                        "code": {"type": "integer"},
                        "message": {"type": "string", "description": "Its text, lines by LF."},
                    },
                    ("code", "message"),
                    description="The upstream's reply to the message data.",
                ),
            },
            ("relay", "from", "recipients", "reply"),
        ),
        "ReleaseFailure": obj(
            {
                "error": {"type": "string", "description": "What happened, naming the relay."},
                "upstream": nullable(
                    obj(
                        {
                            "code": {"type": "integer"},
                            "message": STRING,
                        },
                        ("code", "message"),
                        description="The upstream's refusal; null when it never answered.",
                    )
                ),
                "recipients": recipients,
            },
            ("error", "upstream", "recipients"),
        ),
    }
