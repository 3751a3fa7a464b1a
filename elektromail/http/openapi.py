"""The OpenAPI 3.1 document of the HTTP control API: every route, parameter, body and response.

Pure code: `document()` builds the spec as plain data, `document_json()` is what
`GET /openapi.json` serves. The schemas say what the server answers, so the tests validate real
responses against them (and schemathesis fuzzes the live API with them).
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import metadata
from typing import Any

from elektromail.http import openapi_checks
from elektromail.http.openapi_schemas import (
    STRING,
    UID,
    Schema,
    json_body,
    ref,
    schemas,
)

OPENAPI_VERSION = "3.1.0"
MAX_WAIT_SECONDS = 60
MAX_PAGE = 1000
MAX_QUERY = 1000  # characters of `q` (elektromail.mailquery.MAX_LENGTH)
MAX_PATTERN = 200  # characters of `code_pattern` (elektromail.extract.MAX_PATTERN)

# The query language (elektromail/mailquery.py), as the `q` parameters describe it.
QUERY_LANGUAGE = (
    "Terms separated by spaces; every term must match (AND). Case-insensitive substrings, as "
    "IMAP SEARCH. `from:` `to:` `cc:` `bcc:` (the address list, name and address), "
    "`subject:`, `header:Name=value` (a top-level field; `header:Name` has the field), "
    "`has:attachment`, `is:read` `is:unread` `is:flagged` `is:answered` `is:draft` "
    "`is:deleted`, `before:D` / `after:D` (arrival time before D / at or after D; D is "
    "YYYY-MM-DD, midnight UTC, or an ISO 8601 date-time, no zone meaning UTC), `larger:N` / "
    '`smaller:N` (bytes; `k` = 1024, `M` = 1024 k), a bare word or a `"quoted phrase"` '
    "(in the subject, addresses or body text), `-` before any term to exclude it. Example: "
    '`to:bob subject:"Welcome aboard" -is:read has:attachment`. An unknown key, an '
    "unbalanced quote, a bad date or size, or more than 1000 characters or 32 terms is a 400 "
    "saying what is wrong; quote a word with a colon to search for it as text."
)

# --- parameters and responses ----------------------------------------------------------------


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _parameters() -> dict[str, Any]:
    return {
        "uid": {"name": "uid", "in": "path", "required": True, "schema": UID},
        "user": _query("user", STRING, "Only this user's mail."),
        "mailbox": _query("mailbox", STRING, "Only this mailbox (e.g. INBOX, Archive/2024)."),
        "subject": _query("subject", STRING, "Subject contains this text (any case)."),
        "from": _query("from", STRING, "From header contains this text (any case)."),
        "to": _query("to", STRING, "To header contains this text (any case)."),
        "wait": _query(
            "wait",
            {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
            "Long-poll: wait up to this many seconds for `count` messages to match.",
        ),
        "count": _query(
            "count",
            {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
            "With `wait`: how many matching messages to wait for (default 1).",
        ),
        "include_email": _query(
            "include_email",
            {
                "anyOf": [
                    {"type": "boolean"},
                    # The words the settings take for switches, and empty for the default.
                    {"type": "string", "enum": ["", "1", "0", "yes", "no", "on", "off"]},
                ],
                "default": False,
            },
            "Add each user's email (null when none).",
        ),
        "q": _query("q", {"type": "string", "maxLength": MAX_QUERY}, QUERY_LANGUAGE),
        "after": _query(
            "after",
            {"type": "integer", "minimum": 0, "maximum": 10**18 - 1, "default": 0},
            "A `cursor` from an earlier answer: only messages stored after it (0: all).",
        ),
        "timeout": _query(
            "timeout",
            {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS, "default": 30},
            "Seconds to wait for a match.",
        ),
        "code_pattern": _query(
            "code_pattern",
            {"type": "string", "maxLength": MAX_PATTERN},
            "A regular expression (Python syntax) for codes of your own, tried first: group 1 "
            "when it has one, else the whole match. At most 200 characters, no quantifier on "
            "a part that repeats already (`(a+)+`), and 50 ms per text of the message.",
        ),
        "mailto": _query(
            "mailto",
            {
                "anyOf": [
                    {"type": "boolean"},
                    {"type": "string", "enum": ["", "1", "0", "yes", "no", "on", "off"]},
                ],
                "default": False,
            },
            "List mailto: links too (only http and https by default).",
        ),
        "limit": _query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "At most this many messages (a page); `total` still counts every match.",
        ),
        "offset": _query(
            "offset",
            {"type": "integer", "minimum": 0, "maximum": 10**18 - 1, "default": 0},
            "Skip this many matching messages first.",
        ),
        "rawForm": _query(
            "raw",
            {"type": "string", "enum": ["text", "base64"], "default": "text"},
            "`base64`: `raw_base64` always, not only when `raw` is lossy.",
        ),
        "order": _query(
            "order",
            {"type": "string", "enum": ["oldest", "newest"], "default": "oldest"},
            "Oldest first (the order mail arrived in) or newest first.",
        ),
        "messageUser": _query(
            "user",
            STRING,
            "The message's user; may be left out when only one user has mail.",
        ),
        "messageMailbox": _query(
            "mailbox", {"type": "string", "default": "INBOX"}, "The message's mailbox."
        ),
        "namespace": _query(
            "namespace",
            {"type": "string", "maxLength": 40, "pattern": "^([a-z0-9]([a-z0-9-]*[a-z0-9])?)?$"},
            "Work in this namespace (left out: the default one, or the one a namespace's "
            "token is scoped to; naming another with such a token is a 403).",
        ),
    }


def _error(description: str) -> dict[str, Any]:
    return json_body(ref("schemas", "Error"), description)


def _responses() -> dict[str, Any]:
    unauthorized = _error("No valid bearer token (only when ELEKTROMAIL_HTTP_TOKEN is set).")
    unauthorized["headers"] = {
        "WWW-Authenticate": {
            "required": True,
            "schema": {"type": "string"},
            "description": 'The scheme to use: `Bearer realm="elektromail"`.',
        }
    }
    return {
        "BadRequest": _error("Malformed JSON, or a missing or invalid field (named)."),
        "Unauthorized": unauthorized,
        "Forbidden": _error("A namespace's token used outside its namespace."),
        "NotFound": _error("Unknown user, mailbox, message or namespace."),
        "Conflict": _error("It exists already."),
        "TooLarge": _error("The request body is over the size limit."),
        "Unavailable": _error(
            "Try again later: the store is full or cannot write, or the listener has as many "
            "connections as --max-connections allows (with `Retry-After`); for /healthz, SMTP, "
            "IMAP or the store did not answer in time."
        ),
    }


# --- operations ------------------------------------------------------------------------------


def _resp(*names: str) -> dict[str, Any]:
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "Forbidden": "403",
        "NotFound": "404",
        "Conflict": "409",
        "TooLarge": "413",
        "Unavailable": "503",
    }
    return {codes[name]: ref("responses", name) for name in names}


def _params(*names: str) -> list[dict[str, str]]:
    return [ref("parameters", name) for name in names]


def _op(
    tag: str,
    summary: str,
    ok: tuple[str, dict[str, Any]],
    errors: tuple[str, ...] = ("Unauthorized",),
    **extra: Any,
) -> dict[str, Any]:
    op_id = extra.pop("operationId")
    if "Unavailable" not in errors:  # any route can meet a full store or the connection limit
        errors = (*errors, "Unavailable")
    return {
        "tags": [tag],
        "summary": summary,
        "operationId": op_id,
        **extra,
        "responses": {ok[0]: ok[1], **_resp(*errors)},
    }


def _json_request(schema: Schema, description: str) -> dict[str, Any]:
    return {"required": True, **json_body(schema, description)}


# Routes outside any namespace: the documentation, the health check and the metrics.
UNSCOPED = frozenset({"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/static/{asset}"})


def _scoped(paths: dict[str, Any]) -> dict[str, Any]:
    """Every route but UNSCOPED takes `?namespace=` and may answer 403 (a scoped token
    naming another namespace) and 404 (no such namespace): added here once, so that a route
    added to `_api_paths` is documented as scoped without saying so."""
    for path, item in paths.items():
        if path in UNSCOPED:
            continue
        for method, op in item.items():
            if method == "parameters":
                continue
            op["parameters"] = [*op.get("parameters", ()), ref("parameters", "namespace")]
            op["responses"].setdefault("400", ref("responses", "BadRequest"))
            op["responses"].setdefault("403", ref("responses", "Forbidden"))
            op["responses"].setdefault("404", ref("responses", "NotFound"))
    return paths


def _namespace_paths() -> dict[str, Any]:
    one = json_body(ref("schemas", "Namespace"), "The namespace.")
    name = [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The namespace's name.",
        }
    ]
    return {
        "/namespaces": {
            "post": _op(
                "namespaces",
                "Make a namespace: isolated users, mail and rules, with a token of its own",
                ("201", json_body(ref("schemas", "CreatedNamespace"), "Made.")),
                ("BadRequest", "Unauthorized", "Forbidden", "Conflict", "TooLarge"),
                operationId="createNamespace",
                description="Needs the server's token (or none configured). Mail to "
                "`anything@<domain>` reaches it, IMAP logs in as `user@<name>`; every route "
                "works in it with `?namespace=<name>` or its token.",
                requestBody={
                    "required": False,
                    **json_body(
                        ref("schemas", "NewNamespace"), "A name, or none for a random one."
                    ),
                },
            ),
            "get": _op(
                "namespaces",
                "Every namespace, with its user and message counts",
                (
                    "200",
                    json_body(
                        {"type": "array", "items": ref("schemas", "Namespace")}, "Oldest first."
                    ),
                ),
                ("Unauthorized", "Forbidden"),
                operationId="listNamespaces",
                description="Needs the server's token (or none configured).",
            ),
        },
        "/namespaces/{name}": {
            "parameters": name,
            "get": _op(
                "namespaces",
                "One namespace",
                ("200", one),
                ("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
                operationId="getNamespace",
            ),
            "delete": _op(
                "namespaces",
                "Drop a namespace with its users, mail and rules",
                ("200", json_body(ref("schemas", "Ok"), "Done.")),
                ("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
                operationId="deleteNamespace",
                description="Its IMAP sessions end and its token stops working. The "
                "server's token, or the namespace's own.",
            ),
        },
    }


def _paths() -> dict[str, Any]:
    return _scoped({**_api_paths(), **_namespace_paths()})


def _api_paths() -> dict[str, Any]:
    ok = json_body(ref("schemas", "Ok"), "Done.")
    message_list = json_body(ref("schemas", "MessageList"), "Matching messages, in `order`.")
    message_params = _params("uid", "messageUser", "messageMailbox")
    extract_params = _params("code_pattern", "mailto")
    body_errors = ("BadRequest", "Unauthorized", "TooLarge")
    with_query_token = [{"bearerAuth": []}, {"queryToken": []}, {}]
    return {
        "/reset": {
            "post": _op(
                "state",
                "Back to the start state: seed users and preloaded fixtures only",
                ("200", ok),
                operationId="reset",
                description="Mailboxes get a new UIDVALIDITY; IMAP sessions of affected users "
                "are closed with `* BYE [UNAVAILABLE]`.",
            )
        },
        "/purge": {
            "post": _op(
                "state",
                "Delete every message; users and mailboxes stay",
                ("200", json_body(ref("schemas", "Purged"), "Done.")),
                operationId="purge",
                description="UIDVALIDITY is kept and UIDNEXT keeps counting; selected IMAP "
                "sessions get their EXPUNGEs.",
            )
        },
        "/inject": {
            "post": _op(
                "messages",
                "Store a message in a user's mailbox, without SMTP",
                ("201", json_body(ref("schemas", "Injected"), "Stored (committed).")),
                ("BadRequest", "Unauthorized", "NotFound", "TooLarge"),
                operationId="inject",
                description="Creates the mailbox if needed; selected IMAP sessions and IDLE "
                "see the message at once.",
                requestBody=_json_request(ref("schemas", "Inject"), "The message."),
            )
        },
        "/users": {
            "get": _op(
                "users",
                "List users (never passwords)",
                ("200", json_body({"type": "array", "items": ref("schemas", "User")}, "Users.")),
                ("BadRequest", "Unauthorized"),
                operationId="listUsers",
                parameters=_params("include_email"),
            ),
            "post": _op(
                "users",
                "Create a user, usable over SMTP and IMAP at once",
                ("201", json_body(ref("schemas", "CreatedUser"), "Created.")),
                (*body_errors, "Conflict"),
                operationId="createUser",
                requestBody=_json_request(ref("schemas", "NewUser"), "The new user."),
            ),
        },
        "/users/{user}": {
            "parameters": [{"name": "user", "in": "path", "required": True, "schema": STRING}],
            "delete": _op(
                "users",
                "Remove a user and their mail",
                ("200", ok),
                ("Unauthorized", "NotFound"),
                operationId="deleteUser",
            ),
        },
        "/users/{user}/quota": {
            "parameters": [{"name": "user", "in": "path", "required": True, "schema": STRING}],
            "get": _op(
                "users",
                "A user's storage and message limits and what their mailboxes use",
                ("200", json_body(ref("schemas", "Quota"), "Limits in force and usage.")),
                ("Unauthorized", "NotFound"),
                operationId="getQuota",
                description="The limits IMAP GETQUOTA reports and APPEND, COPY, MOVE and SMTP "
                "enforce: the user's own, else the server's `--quota-storage` and "
                "`--quota-messages`.",
            ),
            "put": _op(
                "users",
                "Give a user limits of their own",
                ("200", json_body(ref("schemas", "Quota"), "Limits in force and usage.")),
                (*body_errors, "NotFound"),
                operationId="setQuota",
                description="Replaces the user's own limits; a missing or null field gives "
                "that one back to the server's setting. 0 is a limit (nothing more fits).",
                requestBody=_json_request(ref("schemas", "QuotaLimits"), "The user's limits."),
            ),
        },
        "/config": {
            "get": _op(
                "server",
                "Settings in force, with the bound ports",
                ("200", json_body(ref("schemas", "Config"), "The snapshot.")),
                operationId="getConfig",
            )
        },
        "/messages": {
            "get": _op(
                "messages",
                "List messages, optionally waiting for them to arrive",
                ("200", message_list),
                ("BadRequest", "Unauthorized"),
                operationId="listMessages",
                description="Filters combine. With `limit`, one page of `limit` messages from "
                "`offset`; `total` counts all that match. With `wait`, answers as soon as "
                "`count` messages match (on any page), or when `wait` seconds have passed with "
                "`timed_out: true`. `cursor` is the arrival cursor of the moment of the "
                "answer: give it as `after` (here or to /messages/wait) to see only what "
                "arrives later.",
                parameters=_params(
                    "user",
                    "mailbox",
                    "q",
                    "after",
                    "subject",
                    "from",
                    "to",
                    "order",
                    "limit",
                    "offset",
                    "wait",
                    "count",
                ),
            )
        },
        "/messages/wait": {
            "get": _op(
                "messages",
                "Wait for the first message after a cursor that matches a query, with its "
                "links and codes",
                ("200", json_body(ref("schemas", "WaitResult"), "The message, or a time-out.")),
                ("BadRequest", "Unauthorized"),
                operationId="waitForMessage",
                description="Answers at once when a message stored after `after` matches `q` "
                "(the oldest such), else as soon as one is delivered (woken by the delivery, "
                "no polling), else after `timeout` seconds with `200`, `message: null` and "
                "`timed_out: true`, as `GET /messages?wait=` does. Race-free: take `cursor` "
                "from any listing, trigger your app, then wait with `after=<cursor>`. The "
                "answer's `cursor` is the message's own: wait after it for the next one. "
                "Links are the HTML anchors (with their text) and the text body's http(s) "
                "URLs, each once; codes are your `code_pattern`'s matches, then 4-8 digit "
                "numbers near a word such as code, PIN, verification, Bestätigungscode, "
                "código, code de vérification or 確認コード (not phone numbers, dates, "
                "prices, order numbers or years), then link parameters such as token= or "
                "code=.",
                parameters=_params(
                    "q", "after", "timeout", "user", "mailbox", "code_pattern", "mailto"
                ),
            )
        },
        "/mailboxes": {
            "get": _op(
                "messages",
                "Mailboxes with their message and unseen counts",
                (
                    "200",
                    json_body(
                        {"type": "array", "items": ref("schemas", "MailboxSummary")},
                        "Every mailbox of every user (or of `user`), INBOX first.",
                    ),
                ),
                ("Unauthorized", "NotFound"),
                operationId="listMailboxes",
                parameters=_params("user"),
            )
        },
        "/messages/{uid}": {
            "get": _op(
                "messages",
                "One message, parsed, with its raw text",
                ("200", json_body(ref("schemas", "Message"), "The message.")),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="getMessage",
                description="With the `links` and `codes` found in it, as /messages/wait "
                "gives them. `raw` is the message decoded as UTF-8, with U+FFFD for each byte "
                "that is not UTF-8; `raw_base64` gives the exact bytes whenever `raw` is lossy "
                "(or always, with `raw=base64`). Without `raw_base64`, `raw` encoded as UTF-8 is "
                "the exact bytes. `/messages/{uid}/raw` serves them as they are.",
                parameters=[*message_params, *extract_params, *_params("rawForm")],
            ),
            "patch": _op(
                "messages",
                "Mark a message seen or unseen, flagged or not",
                ("200", json_body(ref("schemas", "MessageSummary"), "The message now.")),
                ("BadRequest", "Unauthorized", "NotFound", "TooLarge"),
                operationId="patchMessage",
                description="Selected IMAP sessions are told of the new flags.",
                parameters=message_params,
                requestBody=_json_request(ref("schemas", "FlagSwitches"), "The switches."),
            ),
            "delete": _op(
                "messages",
                "Delete one message",
                ("200", ok),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="deleteMessage",
                description="Removed at once (no \\Deleted step); selected IMAP sessions get "
                "its EXPUNGE.",
                parameters=message_params,
            ),
        },
        "/messages/{uid}/attachments/{index}": {
            "get": _op(
                "messages",
                "Download one attachment, decoded",
                (
                    "200",
                    {
                        "description": "The attachment's bytes with its Content-Type, as a "
                        "download (`Content-Disposition: attachment`).",
                        "content": {"*/*": {"schema": {"type": "string"}}},
                    },
                ),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="getAttachment",
                parameters=[
                    *message_params,
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                        "description": "The attachment's `index` in the message view.",
                    },
                ],
            )
        },
        "/messages/{uid}/raw": {
            "get": _op(
                "messages",
                "The exact stored bytes",
                (
                    "200",
                    {
                        "description": "The message as stored (CRLF line ends).",
                        "content": {"message/rfc822": {"schema": {"type": "string"}}},
                    },
                ),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="getMessageRaw",
                parameters=message_params,
            )
        },
        "/rules": {
            "get": _op(
                "rules",
                "The delivery rules in force",
                ("200", json_body(ref("schemas", "Rules"), "The rules, defaults filled in.")),
                operationId="getRules",
            ),
            "put": _op(
                "rules",
                "Replace the delivery rules atomically",
                ("200", json_body(ref("schemas", "Rules"), "The rules now in force.")),
                body_errors,
                operationId="putRules",
                description="Same JSON as ELEKTROMAIL_DSN_RULES; an invalid rule changes "
                "nothing and the 400 names the rule and the field.",
                requestBody=_json_request(ref("schemas", "Rules"), "The new rules, in order."),
            ),
        },
        "/events": {
            "get": _op(
                "messages",
                "Server-Sent Events for deliveries, flag changes and expunges",
                (
                    "200",
                    {
                        "description": "An endless `text/event-stream`. Each record has an "
                        "`id`, an `event` type (`delivered`, `flags` or `expunged`) and a "
                        "`data` line holding a JSON `Event`; comment lines keep it alive.",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                ),
                ("BadRequest", "Unauthorized"),
                operationId="events",
                description="One event per message delivered or injected, per message whose "
                "flags changed and per message expunged. A browser's EventSource cannot send "
                "headers, so `?token=` is accepted here.",
                parameters=_params("user", "mailbox"),
                security=with_query_token,
            )
        },
        "/healthz": {
            "get": _op(
                "server",
                "200 when SMTP, IMAP and the store answer",
                ("200", json_body(ref("schemas", "Health"), "Healthy.")),
                ("Unavailable",),
                operationId="health",
                description="Reveals nothing else, and needs no token.",
                security=[],
            )
        },
        "/openapi.json": {
            "get": _op(
                "docs",
                "This document",
                ("200", json_body({"type": "object"}, "The OpenAPI 3.1 document.")),
                operationId="openapi",
                security=with_query_token,
            )
        },
        "/docs": {
            "get": _op(
                "docs",
                "Swagger UI for this API",
                ("200", {"description": "The page.", "content": {"text/html": {}}}),
                operationId="docs",
                description="Opened as `/docs?token=...`, the page sends the token as a bearer "
                "header itself.",
                security=with_query_token,
            )
        },
        "/docs/static/{asset}": {
            "get": _op(
                "docs",
                "A packaged Swagger UI asset (open without a token)",
                (
                    "200",
                    {
                        "description": "The file.",
                        "content": {
                            "text/javascript": {},
                            "text/css": {},
                            "image/png": {},
                        },
                    },
                ),
                ("NotFound",),
                operationId="docsAsset",
                parameters=[{"name": "asset", "in": "path", "required": True, "schema": STRING}],
                security=[],
            )
        },
        **_transcript_paths(message_params),
        **_oauth_paths(),
        **_webhook_paths(),
        **_release_paths(message_params),
        **_metrics_paths(),
    }


def _webhooks() -> dict[str, Any]:
    from elektromail.http.webhooks import openapi_webhooks

    return openapi_webhooks()


def _webhook_paths() -> dict[str, Any]:
    from elektromail.http.webhooks import openapi_paths

    return openapi_paths()


def _metrics_paths() -> dict[str, Any]:
    from elektromail.http.metrics import openapi_paths

    return openapi_paths()


def _oauth_paths() -> dict[str, Any]:
    from elektromail.http.oauth import openapi_paths

    return openapi_paths()


def _release_paths(message_params: list[dict[str, Any]]) -> dict[str, Any]:
    from elektromail.http.release import openapi_paths

    return openapi_paths(message_params)


def _transcript_paths(message_params: list[dict[str, Any]]) -> dict[str, Any]:
    from elektromail.http.transcripts import openapi_paths

    return openapi_paths(message_params)


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "elektromail control API",
            "version": _version(),
            "description": "Drive a test mail server: inject, list and wait for messages, "
            "manage users and delivery rules, reset between tests. Errors are always "
            '`{"error": "..."}`. When ELEKTROMAIL_HTTP_TOKEN is set, every route but '
            "/healthz and the /docs assets needs `Authorization: Bearer <token>`; "
            "/docs, /openapi.json and /events also take `?token=`.",
            "license": {"name": "EUPL-1.2", "identifier": "EUPL-1.2"},
        },
        "tags": [
            {"name": "messages"},
            {"name": "state"},
            {"name": "users"},
            {"name": "rules"},
            {"name": "checks"},
            {"name": "namespaces"},
            {"name": "server"},
            {"name": "docs"},
        ],
        # `{}`: without ELEKTROMAIL_HTTP_TOKEN no credentials are needed.
        "security": [{"bearerAuth": []}, {}],
        "paths": {**_paths(), **_scoped(openapi_checks.paths(_op, _params))},
        "webhooks": _webhooks(),
        "components": {
            "schemas": {**schemas(), **openapi_checks.schemas()},
            "parameters": _parameters(),
            "responses": _responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The value of ELEKTROMAIL_HTTP_TOKEN.",
                },
                "queryToken": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "token",
                    "description": "The token as a query parameter, for browsers: only on "
                    "/docs, /openapi.json and /events.",
                },
            },
        },
    }


def _version() -> str:
    try:
        return metadata.version("elektromail")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def document() -> dict[str, Any]:
    """The OpenAPI document, a fresh copy the caller may change."""
    return copy.deepcopy(_document())


@functools.cache
def document_json() -> bytes:
    """The document as served: compact UTF-8 JSON, built once."""
    return json.dumps(_document(), separators=(",", ":"), ensure_ascii=False).encode()
