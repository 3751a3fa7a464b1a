"""SMTP transcripts over HTTP: `GET /messages/{uid}/transcript` (the one kept with a message
received over SMTP, for its whole life) and `GET /transcripts` (the ring of the latest
transactions, accepted or refused, newest first); and their OpenAPI paths and schemas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from elektromail.http.jsonio import bad_request, not_found, query_int, query_text
from elektromail.http.openapi_schemas import STRING, json_body, nullable, obj, ref
from elektromail.transcripts import MAX_LINES, MAX_LONG_OCTETS, OUTCOMES, NoTranscript, from_stored

if TYPE_CHECKING:
    from elektromail.http.app import ControlAPI

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def add_transcript_routes(api: ControlAPI) -> None:
    """Route the transcript handlers on `api` (ControlAPI._add_routes calls this)."""
    routes = TranscriptRoutes(api)
    api._add("/messages/<uid>/transcript", "GET", routes.get_message_transcript)
    api._add("/transcripts", "GET", routes.list_transcripts)


class TranscriptRoutes:
    def __init__(self, api: ControlAPI) -> None:
        self.api = api

    async def get_message_transcript(self, request, uid: str) -> dict[str, Any]:
        api = self.api
        user, mailbox, number = await api._address(request, uid)
        found = await api.postoffice.get_transcript(user, mailbox, number)
        if found is None:
            raise await api._why_missing(user, mailbox, number)
        try:
            return from_stored(found[0])
        except NoTranscript as e:
            shown = api.shown(request, user)
            raise not_found(
                f"message {number} of {shown}/{mailbox} has no SMTP transcript: {e}"
            ) from None

    async def list_transcripts(self, request) -> dict[str, Any]:
        limit = query_int(request, "limit", 1, MAX_LIMIT)
        offset = query_int(request, "offset", 0)
        outcome = query_text(request, "outcome")
        if outcome is not None and outcome not in OUTCOMES:
            raise bad_request("parameter 'outcome': expected accepted or refused")
        limit = DEFAULT_LIMIT if limit is None else limit
        postoffice = self.api.postoffice
        ring = postoffice.transcripts
        keep = None
        if postoffice.namespaces:  # a namespace sees its sessions only, the default the rest
            scope = self.api.scope(request)
            keep = lambda item: _namespace_of(postoffice, item) == scope  # noqa: E731
        page, total = ring.page(limit, offset or 0, outcome, keep)
        return {
            "transcripts": page,
            "total": total,
            "kept": ring.size,
        }


def _namespace_of(postoffice, item: dict[str, Any]) -> str | None:
    """The namespace a transaction went to: its first recipient's (namespace_of_address asks
    the AUTH user's first), else its AUTH user's, else the default one (None)."""
    via = (item.get("auth") or {}).get("user")
    for recipient in item.get("recipients") or ():
        if recipient.get("address"):
            return postoffice.namespace_of_address(recipient["address"], via)
    return postoffice.namespace_of_user(via)


# --- OpenAPI ---------------------------------------------------------------------------------


def openapi_paths(message_params: list[dict[str, Any]]) -> dict[str, Any]:
    """The two routes' entries, for openapi._paths (`op` builds an operation there)."""
    from elektromail.http.openapi import _op, _params, _query

    return {
        "/messages/{uid}/transcript": {
            "get": _op(
                "messages",
                "The SMTP transcript of a message received over SMTP",
                ("200", json_body(ref("schemas", "Transcript"), "The transcript.")),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="getMessageTranscript",
                description="What the client said and the server answered in the message's "
                "transaction, with the session's preamble (greeting, EHLO, STARTTLS, AUTH). "
                "Kept with the message (and its copies) for its whole life, also in a "
                "database file. AUTH secrets and the message data are never in it. 404 for a "
                "message that did not come over SMTP (injected, appended, a DSN), with why.",
                parameters=message_params,
            )
        },
        "/transcripts": {
            "get": _op(
                "messages",
                "The latest SMTP transactions, accepted or refused, newest first",
                ("200", json_body(ref("schemas", "TranscriptList"), "A page of the ring.")),
                ("BadRequest", "Unauthorized"),
                operationId="listTranscripts",
                description="An in-memory ring of the last ELEKTROMAIL_SMTP_TRANSCRIPTS "
                "transactions (1000 by default; emptied by /reset and by a restart): refused "
                "MAIL or RCPT, messages over the size limit, clients that left mid-"
                "transaction, and accepted messages.",
                parameters=[
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                        "At most this many transcripts.",
                    ),
                    *_params("offset"),
                    _query(
                        "outcome",
                        {"type": "string", "enum": list(OUTCOMES)},
                        "Only accepted or only refused transactions.",
                    ),
                ],
            )
        },
    }


def openapi_schemas() -> dict[str, Any]:
    """The Transcript and TranscriptList schemas."""
    parameters = {
        "type": "object",
        "description": "The command's parameters: name (upper case) to value, null for a "
        "parameter without one (SMTPUTF8).",
        "additionalProperties": nullable(STRING),
    }
    command = {
        "address": {"type": "string", "description": "The path, without angle brackets."},
        "parameters": parameters,
        "reply": nullable({"type": "string", "description": "The server's reply line."}),
        "accepted": {"type": "boolean", "description": "The reply was 2xx."},
    }
    line = obj(
        {
            "ms": {
                "type": "number",
                "minimum": 0,
                "description": "Milliseconds since the connection was made.",
            },
            "direction": {"type": "string", "enum": ["client", "server", "note"]},
            "text": {
                "type": "string",
                "description": "The line without CRLF; bytes that are not UTF-8 and control "
                "characters as \\xNN. Notes stand for what is not shown: the message data "
                "(`<N octets of message data>`), a redacted SASL response, a cut.",
            },
        },
        ("ms", "direction", "text"),
    )
    transcript = obj(
        {
            "id": nullable(
                {"type": "integer", "minimum": 1, "description": "Its number in the ring."}
            ),
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "reason": nullable(
                {
                    "type": "string",
                    "description": "Why it was refused (the reply, or how the client ended it).",
                }
            ),
            "started": nullable(
                {"type": "string", "description": "When the connection was made (ISO 8601, UTC)."}
            ),
            "client": obj(
                {
                    "address": nullable(STRING),
                    "port": nullable({"type": "integer", "minimum": 0, "maximum": 65535}),
                },
                ("address", "port"),
            ),
            "helo": nullable({"type": "string", "description": "The EHLO or HELO name."}),
            "esmtp": {"type": "boolean", "description": "Greeted with EHLO."},
            "tls": nullable(obj({"version": STRING, "cipher": STRING}, ("version", "cipher"))),
            "auth": nullable(obj({"mechanism": STRING, "user": STRING}, ("mechanism", "user"))),
            "mail_from": nullable(obj(command, tuple(command))),
            "recipients": {"type": "array", "items": obj(command, tuple(command))},
            "size": nullable(
                {"type": "integer", "minimum": 0, "description": "Octets of message data."}
            ),
            "truncated": {
                "type": "boolean",
                "description": f"Lines were left out (over {MAX_LINES} lines, or long lines over "
                f"{MAX_LONG_OCTETS // 1024} KiB, in a part); the "
                "last line says how many.",
            },
            "lines": {"type": "array", "items": line},
        },
        (
            "id",
            "outcome",
            "reason",
            "started",
            "client",
            "helo",
            "esmtp",
            "tls",
            "auth",
            "mail_from",
            "recipients",
            "size",
            "truncated",
            "lines",
        ),
    )
    listing = obj(
        {
            "transcripts": {"type": "array", "items": ref("schemas", "Transcript")},
            "total": {"type": "integer", "minimum": 0, "description": "How many match."},
            "kept": {
                "type": "integer",
                "minimum": 0,
                "description": "The ring's size (ELEKTROMAIL_SMTP_TRANSCRIPTS).",
            },
        },
        ("transcripts", "total", "kept"),
    )
    return {"Transcript": transcript, "TranscriptList": listing}
