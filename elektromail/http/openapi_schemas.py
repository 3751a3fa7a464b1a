"""The component schemas of the OpenAPI document (elektromail/http/openapi.py): the JSON the
control API takes and gives, with the patterns and conditions its checks apply. Pure data.
"""

from __future__ import annotations

from typing import Any

from elektromail.flags import ATOM_CHAR, SYSTEM_FLAGS
from elektromail.rules import MAX_DELAY_MS

JSON = "application/json"

Schema = dict[str, Any]


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: Schema) -> Schema:
    """`schema` or null (OpenAPI 3.1 spells it as a JSON Schema type list)."""
    return {**schema, "type": [schema["type"], "null"]}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        **extra,
    }


def json_body(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


# --- schemas ---------------------------------------------------------------------------------

STRING = {"type": "string"}
MAX_LIMIT = 2**53  # a quota limit: what every JSON reader keeps exactly
LIMIT = {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}


def _usage(what: str) -> Schema:
    count = {"type": "integer", "minimum": 0}
    return obj(
        {
            "used": {**count, "description": what.capitalize() + "."},
            "limit": nullable({**count, "description": "In force; null: no limit."}),
            "own": nullable({**count, "description": "The user's own; null: the server's."}),
        },
        ("used", "limit", "own"),
    )


CURSOR = {
    "type": "integer",
    "minimum": 0,
    "description": "The arrival cursor: every message stored later has a larger one (ids are "
    "never taken back, whatever is deleted). Give it as `after`.",
}
UID = {
    "type": "integer",
    "minimum": 1,
    "maximum": 2**32 - 1,
    "description": "The message's IMAP UID in its mailbox.",
}
FLAGS = {
    "type": "array",
    "items": {"type": "string"},
    "description": "IMAP flags and keywords, e.g. `\\\\Seen`, `\\\\Flagged`, `$Label1`.",
}
# Character classes in ECMA 262 regex syntax, as OpenAPI 3.1 (JSON Schema) patterns use it.
CONTROLS = r"\x00-\x1f\x7f-\x9f"
USER_NAME = f"^[^\\s@/\\\\\"':,{CONTROLS}]+$"
EMAIL = f"^[^\\s{CONTROLS}]+@[^\\s@{CONTROLS}]+$"
# elektromail.names' rule (mailbox_name_problem), as far as a pattern says it: levels separated
# by single slashes, no control characters, no `.` or `..` level, no leading `~`
# (lengths are in bytes there, in characters here); modified UTF-7 spellings are refused too.
MAILBOX_LEVEL = f"[^/{CONTROLS}]+"
MAILBOX = {
    "type": "string",
    "pattern": f"^{MAILBOX_LEVEL}(/{MAILBOX_LEVEL})*$",
    "maxLength": 4096,
    "allOf": [
        {"not": {"pattern": r"(^|/)\.\.?(/|$)"}},
        {"not": {"pattern": "^~"}},
        {"not": {"pattern": "^([^/]*/){64}"}},  # 65 levels or more
    ],
    "default": "INBOX",
    "description": "Created when missing; `/` separates levels, as in `Archive/2024`. A name is "
    "UTF-8 text, as IMAP4rev2 and the web inbox show it (`Entwürfe`); its IMAP4rev1 spelling "
    "in modified UTF-7 (`Entw&APw-rfe`) is refused with a 400 naming the text to give. No `.` "
    "or `..` level, no leading `~`, no control characters; at most 4096 bytes, a "
    "level at most 255 bytes in modified UTF-7, 64 levels.",
}
BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"
FLAGS_IN = {
    "type": "array",
    "items": {
        "anyOf": [
            {"type": "string", "enum": list(SYSTEM_FLAGS)},
            {"type": "string", "pattern": f"^{ATOM_CHAR}+$"},
        ]
    },
    "description": "System flags (any case) or keywords (IMAP atoms such as `$Label1`).",
}
INTERNAL_DATE = {
    "type": "string",
    "format": "date-time",
    "description": "When the server received the message (IMAP INTERNALDATE), ISO 8601.",
    "examples": ["2024-01-01T00:00:00+00:00"],
}
IMAP_DATE = (
    r"^ ?(0?[1-9]|[12][0-9]|3[01])-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-"
    r"[0-9]{4} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9] [+-]([01][0-9]|2[0-3])[0-5][0-9]$"
)
INTERNAL_DATE_IN = {
    "anyOf": [
        {"type": "string", "pattern": IMAP_DATE},
        {"type": "string", "format": "date-time"},
        {"type": "number", "minimum": 0, "exclusiveMaximum": 253402300800},
    ],
    "description": "The INTERNALDATE to give the message (default: now): an IMAP date-time "
    '("01-Jan-2024 00:00:00 +0000", as in fixture sidecars), an ISO 8601 date-time (no zone '
    "means UTC) or seconds since 1970.",
    "examples": ["01-Jan-2024 00:00:00 +0000", "2024-01-01T00:00:00Z"],
}


def _message_summary_properties() -> dict[str, Schema]:
    return {
        "uid": UID,
        "user": {"type": "string"},
        "mailbox": {"type": "string"},
        "flags": FLAGS,
        "modseq": {
            "type": "integer",
            "minimum": 1,
            "description": "The message's mod-sequence (IMAP CONDSTORE, RFC 7162): it grows "
            "with every change of its flags, so a client can tell what changed since it looked.",
        },
        "internal_date": INTERNAL_DATE,
        "size": {"type": "integer", "minimum": 0, "description": "Size in bytes, as stored."},
        "subject": nullable({"type": "string", "description": "Decoded Subject header."}),
        "from": nullable({"type": "string", "description": "Decoded From header."}),
        "to": nullable({"type": "string", "description": "Decoded To header."}),
        "cc": nullable({"type": "string", "description": "Decoded Cc header."}),
        "date": nullable({"type": "string", "description": "The Date header as sent."}),
        "message_id": nullable({"type": "string", "description": "The Message-ID header."}),
        "attachment_count": {
            "type": "integer",
            "minimum": 0,
            "description": "How many parts are attachments (not the first inline text/plain "
            "or text/html body).",
        },
        "preview": {
            "type": "string",
            "maxLength": 200,
            "description": "A short plain-text preview of the body, as IMAP's FETCH PREVIEW "
            "gives it (RFC 8970): the first text part, white space collapsed, at most 200 "
            "characters; empty when the message has no text.",
        },
    }


SUMMARY_FIELDS = tuple(_message_summary_properties())


# Which stages each delivery-rule action takes (the first is its default) and the reply class
# of the actions that answer with an error; tests/http/test_openapi.py checks them against
# elektromail.rules.parse_rule.
RULE_STAGES = {
    "reject": ("rcpt", "data"),
    "bounce": ("rcpt",),
    "accept": ("rcpt",),
    "tempfail": ("rcpt", "data"),
    "delay": ("rcpt", "connect", "mail", "data"),
    "disconnect": ("rcpt", "connect", "mail", "data"),
}
RULE_REPLY_CLASS = {"reject": 5, "bounce": 5, "tempfail": 4}
PRINTABLE = f"^[^{CONTROLS}]*$"


def _rule_schema() -> Schema:
    """One delivery rule, as `elektromail.rules.parse_rule` accepts it (and `to_json` gives it
    back), including which fields each action takes."""
    pattern = "Address pattern: `*` matches anything, compared case-insensitively."
    schema = obj(
        {
            "recipient": {
                "type": ["string", "null"],
                "pattern": PRINTABLE,
                "description": f"{pattern} Not at stages connect and mail.",
            },
            "sender": {
                "type": ["string", "null"],
                "pattern": PRINTABLE,
                "description": f'{pattern} `""` matches only the null sender `<>`. Not at '
                "stage connect.",
            },
            "action": {"type": "string", "enum": list(RULE_STAGES)},
            "code": {
                "type": ["integer", "null"],
                "description": "SMTP reply code: 5xx for reject and bounce (default 550), 4xx "
                "for tempfail (default 451). Only for those actions.",
            },
            "status": {
                "type": ["string", "null"],
                "pattern": r"^[45]\.[0-9]{1,3}\.[0-9]{1,3}$",
                "description": "Enhanced status code of the same class, e.g. 5.1.1.",
            },
            "diagnostic": {
                "type": ["string", "null"],
                "pattern": r"^[ -~]*[!-~][ -~]*$",
                "description": "One line of printable ASCII: the reply text and the DSN's "
                "diagnostic. Only for reject, bounce and tempfail.",
            },
            "stage": {
                "type": ["string", "null"],
                "enum": ["rcpt", "connect", "mail", "data", None],
                "description": "When the action acts (default rcpt): reject and tempfail at "
                "rcpt or data, delay and disconnect at any stage, accept and bounce at rcpt.",
            },
            "delay_ms": {
                "type": ["integer", "null"],
                "minimum": 0,
                "maximum": MAX_DELAY_MS,
                "description": "Milliseconds to wait before the reply; required for delay.",
            },
            "probability": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 1,
                "description": "Chance (0-1) that the rule fires when it matches.",
            },
        },
        ("action",),
        additionalProperties=False,
    )
    schema["allOf"] = [_rule_action_condition(action) for action in RULE_STAGES] + [
        _when_stage(["connect", "mail"], {"recipient": {"type": "null"}}),
        _when_stage(["connect"], {"sender": {"type": "null"}}),
    ]
    return schema


def _rule_action_condition(action: str) -> Schema:
    properties: dict[str, Any] = {"stage": {"enum": [*RULE_STAGES[action], None]}}
    klass = RULE_REPLY_CLASS.get(action)
    if klass is None:  # no error reply: null is as good as leaving them out
        properties.update({name: {"type": "null"} for name in ("code", "status", "diagnostic")})
    else:  # null, as a field left out, takes the action's default reply
        properties["code"] = {
            "type": ["integer", "null"],
            "minimum": klass * 100,
            "maximum": klass * 100 + 99,
        }
        properties["status"] = {"type": ["string", "null"], "pattern": f"^{klass}\\."}
        properties["diagnostic"] = {"type": ["string", "null"]}
    then: Schema = {"properties": properties}
    if action == "delay":
        then["required"] = ["delay_ms"]
        properties["delay_ms"] = {"type": "integer"}
    return {
        "if": {"properties": {"action": {"const": action}}, "required": ["action"]},
        "then": then,
    }


def _when_stage(stages: list[str], properties: dict[str, Schema]) -> Schema:
    return {
        "if": {"properties": {"stage": {"enum": stages}}, "required": ["stage"]},
        "then": {"properties": properties},
    }


def _config_schema() -> Schema:
    def addr(name: str) -> Schema:
        return nullable({"type": "string", "description": f"`host:port` of {name}; null if off."})

    def port(name: str) -> Schema:
        return nullable({"type": "integer", "description": f"Bound {name} port; null if off."})

    props: dict[str, Schema] = {}
    for proto in ("smtp", "imap", "http", "pop3"):
        props[f"{proto}_addr"] = addr(proto.upper())
    for proto in ("smtp", "imap", "http", "pop3"):
        props[f"{proto}_port"] = port(proto.upper())
    for proto in ("smtp", "imap", "http", "pop3"):
        props[f"{proto}_enabled"] = {"type": "boolean"}
    props["smtp_starttls"] = {"type": "boolean"}
    props["imap_starttls"] = {"type": "boolean"}
    props["pop3s_port"] = port("POP3S (implicit TLS)")
    props["storage"] = {"type": "string", "enum": ["memory", "sqlite", "postgresql"]}
    props["storage_path"] = nullable(
        {"type": "string", "description": "ELEKTROMAIL_DB (a URL's password as ***)."}
    )
    props["http_token_required"] = {"type": "boolean"}
    props["auth_disabled"] = {"type": "boolean"}
    props["user_count"] = {"type": "integer", "minimum": 0}
    props["oauth"] = {
        "type": "string",
        "enum": ["off", "accept", "tokens"],
        "description": "--oauth: XOAUTH2 and OAUTHBEARER sign-in (off: not offered).",
    }
    props["webhook_urls"] = {
        "type": "array",
        "items": {"type": "string"},
        "description": "--webhook-url: where each delivery is POSTed (see GET /webhooks).",
    }
    props["webhook_signed"] = {
        "type": "boolean",
        "description": "--webhook-secret is set (the secret itself is never shown).",
    }
    props["webhook_timeout"] = {"type": "integer", "minimum": 1, "description": "Seconds."}
    props["webhook_queue"] = {"type": "integer", "minimum": 1}
    props["relay_host"] = nullable(
        {"type": "string", "description": "--relay-host; null: releasing is off."}
    )
    props["relay_port"] = nullable(
        {"type": "integer", "description": "The relay's port (--relay-port or --relay-tls's)."}
    )
    props["relay_tls"] = {"type": "string", "enum": ["starttls", "tls", "none"]}
    props["relay_tls_verify"] = {"type": "boolean"}
    props["relay_user"] = nullable({"type": "string", "description": "--relay-user."})
    props["relay_password_set"] = {
        "type": "boolean",
        "description": "Whether --relay-password is set (the password is never shown).",
    }
    props["relay_allow"] = {
        "type": "array",
        "items": STRING,
        "description": "--relay-allow globs; empty: any recipient.",
    }
    props["relay_timeout"] = {"type": "integer", "minimum": 1, "description": "Seconds."}
    props["max_messages"] = nullable(
        {
            "type": "integer",
            "minimum": 1,
            "description": "--max-messages: messages kept in each namespace; null: no cap.",
        }
    )
    props["max_age"] = nullable(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "--max-age in seconds: older messages are pruned; null: kept.",
        }
    )
    props["workers"] = {
        "type": "integer",
        "minimum": 1,
        "maximum": 64,
        "description": "--workers: processes serving these ports.",
    }
    return obj(props, tuple(props))


NAMESPACE_NAME = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"


def _namespace_schemas() -> dict[str, Schema]:
    name = {
        "type": "string",
        "pattern": NAMESPACE_NAME,
        "maxLength": 40,
        "description": "A DNS label: letters, digits and inner hyphens, lower case.",
    }
    when = {"type": "string", "format": "date-time"}
    namespace = {
        "name": name,
        "domain": {
            "type": "string",
            "description": "Mail to anything@ this domain reaches the namespace "
            "(`<name>.<--namespace-suffix>`).",
        },
        "login_suffix": {
            "type": "string",
            "description": "IMAP and SMTP AUTH log in as `user` followed by this (`@<name>`).",
        },
        "created": when,
        "last_used": when,
        "users": {"type": "integer", "minimum": 0},
        "messages": {"type": "integer", "minimum": 0},
    }
    created = {
        **namespace,
        "token": {
            "type": "string",
            "description": "A bearer token for this namespace only; also a password for "
            "its users over IMAP and SMTP AUTH. Shown once.",
        },
    }
    return {
        "Namespace": obj(namespace, tuple(namespace)),
        "CreatedNamespace": obj(created, tuple(created)),
        "NewNamespace": obj(
            {"name": {**name, "type": ["string", "null"], "minLength": 1}},
            (),
            additionalProperties=False,
            description="Leave `name` out or null (or send no body) for a random name.",
        ),
    }


def schemas() -> dict[str, Schema]:
    """Every schema of `components/schemas`, by name."""
    summary = _message_summary_properties()
    attachment = obj(
        {
            "index": {
                "type": "integer",
                "minimum": 0,
                "description": "Its number in /messages/{uid}/attachments/{index}.",
            },
            "filename": nullable(STRING),
            "content_type": STRING,
            "size": {"type": "integer", "minimum": 0, "description": "Decoded size in bytes."},
            "content_id": nullable(
                {
                    "type": "string",
                    "description": "Content-ID without angle brackets, as `cid:` URLs in the "
                    "HTML body name it (RFC 2392).",
                }
            ),
        },
        ("index", "filename", "content_type", "size", "content_id"),
    )
    detail = {
        **summary,
        "headers": {
            "type": "object",
            "description": "Every header field, unfolded and decoded: name (as first written) "
            "to its values in order.",
            "additionalProperties": {"type": "array", "items": STRING},
        },
        "text": nullable({"type": "string", "description": "The first text/plain body."}),
        "html": nullable({"type": "string", "description": "The first text/html body."}),
        "attachments": {"type": "array", "items": ref("schemas", "Attachment")},
        "raw": {
            "type": "string",
            "description": "The stored message decoded as UTF-8, U+FFFD (the replacement "
            "character) for each byte that is not UTF-8; exact whenever `raw_base64` is absent.",
        },
        "raw_base64": {
            "type": "string",
            "contentEncoding": "base64",
            "description": "The exact stored bytes in base64: present when they are not "
            "UTF-8 (so `raw` is lossy), or always with `?raw=base64`.",
        },
    }
    extracted = {
        "links": {"type": "array", "items": ref("schemas", "Link")},
        "codes": {"type": "array", "items": ref("schemas", "Code")},
        "code": nullable({"type": "string", "description": "The first of `codes`."}),
    }
    detail.update(extracted)
    detail_required = (
        *summary,
        "headers",
        "text",
        "html",
        "attachments",
        "raw",
        *extracted,
    )
    found = {key: value for key, value in detail.items() if key not in ("raw", "raw_base64")}
    found["attachments"] = {
        "type": "array",
        "items": obj(
            {
                **attachment["properties"],
                "url": {"type": "string", "description": "Its download path on this API."},
            },
            (*attachment["required"], "url"),
        ),
    }
    found["raw_url"] = {"type": "string", "description": "The path of the exact bytes."}
    found_required = (*(k for k in detail_required if k != "raw"), "raw_url")
    inject_properties = {
        "user": {"type": "string", "pattern": r"\S"},
        "mailbox": MAILBOX,
        "raw": {
            "type": "string",
            "minLength": 1,
            "description": "The message as UTF-8 text; bare LF becomes CRLF.",
        },
        "raw_base64": {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": BASE64,
            "description": "The message as base64, for any bytes; bare LF becomes CRLF.",
        },
        "flags": FLAGS_IN,
        "internal_date": INTERNAL_DATE_IN,
    }
    return {
        "Error": obj(
            {"error": {"type": "string", "description": "What was wrong, naming the field."}},
            ("error",),
        ),
        "User": obj(
            {
                "user": STRING,
                "email": nullable(
                    {"type": "string", "description": "Only with `include_email=true`."}
                ),
            },
            ("user",),
        ),
        "Quota": obj(
            {
                "storage": _usage("bytes of the user's messages"),
                "messages": _usage("messages in the user's mailboxes"),
            },
            ("storage", "messages"),
        ),
        "QuotaLimits": obj(
            {
                "storage": nullable({**LIMIT, "description": "Bytes; null: the server's."}),
                "messages": nullable({**LIMIT, "description": "Null: the server's."}),
            },
            additionalProperties=False,
        ),
        "CreatedUser": obj(
            {"user": STRING, "email": nullable(STRING)},
            ("user", "email"),
        ),
        "NewUser": obj(
            {
                "user": {
                    "type": "string",
                    "pattern": USER_NAME,
                    "description": "No spaces, controls or any of `@ / \\ \" ' : ,`.",
                },
                "password": {"type": "string", "minLength": 1},
                "email": {
                    "type": ["string", "null"],
                    "pattern": EMAIL,
                    "description": "An address that reaches the user (besides user@any).",
                },
            },
            ("user", "password"),
        ),
        "Config": _config_schema(),
        "Inject": obj(
            inject_properties,
            ("user",),
            oneOf=[{"required": ["raw"]}, {"required": ["raw_base64"]}],
            description="Give exactly one of `raw` and `raw_base64`.",
        ),
        "Injected": obj({"uid": UID}, ("uid",)),
        "MessageSummary": obj(summary, SUMMARY_FIELDS),
        "MessageList": obj(
            {
                "messages": {"type": "array", "items": ref("schemas", "MessageSummary")},
                "count": {"type": "integer", "minimum": 0, "description": "len(messages)"},
                "total": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How many messages match, on every page.",
                },
                "timed_out": {
                    "type": "boolean",
                    "description": "True when `wait` ran out before `count` messages matched.",
                },
                "cursor": CURSOR,
            },
            ("messages", "count", "total", "timed_out", "cursor"),
        ),
        "Link": obj(
            {
                "url": STRING,
                "text": nullable(
                    {"type": "string", "description": "The anchor's text; null: a text link."}
                ),
                "source": {"type": "string", "enum": ["html", "text"]},
            },
            ("url", "text", "source"),
        ),
        "Code": obj(
            {
                "value": STRING,
                "kind": {
                    "type": "string",
                    "enum": ["pattern", "keyword", "link"],
                    "description": "Your code_pattern's match, a number near a code word, or "
                    "a link's query parameter.",
                },
                "source": {"type": "string", "enum": ["subject", "text", "html", "link"]},
                "context": {"type": "string", "description": "The text around it, or the link."},
                "param": nullable(
                    {"type": "string", "description": "The link parameter (kind link)."}
                ),
            },
            ("value", "kind", "source", "context", "param"),
        ),
        "FoundMessage": obj(found, found_required),
        "WaitResult": obj(
            {
                "message": {"anyOf": [ref("schemas", "FoundMessage"), {"type": "null"}]},
                "cursor": {
                    **CURSOR,
                    "description": "The message's arrival number (wait after it for the next "
                    "one), or on a time-out the `after` given.",
                },
                "timed_out": {"type": "boolean"},
            },
            ("message", "cursor", "timed_out"),
        ),
        "MailboxSummary": obj(
            {
                "user": STRING,
                "mailbox": STRING,
                "messages": {"type": "integer", "minimum": 0},
                "unseen": {"type": "integer", "minimum": 0, "description": "Without \\Seen."},
            },
            ("user", "mailbox", "messages", "unseen"),
        ),
        "FlagSwitches": obj(
            {
                "seen": {"type": "boolean", "description": "Set (true) or clear \\Seen."},
                "flagged": {"type": "boolean", "description": "Set (true) or clear \\Flagged."},
            },
            (),
            minProperties=1,
            additionalProperties=False,
            description="At least one switch; the others stay as they are.",
        ),
        "Attachment": attachment,
        "Message": obj(detail, detail_required),
        "Rule": _rule_schema(),
        "Rules": {"type": "array", "items": ref("schemas", "Rule")},
        "Ok": obj({"ok": {"type": "boolean", "const": True}}, ("ok",)),
        "Purged": obj(
            {
                "ok": {"type": "boolean", "const": True},
                "deleted": {"type": "integer", "minimum": 0, "description": "Messages deleted."},
            },
            ("ok", "deleted"),
        ),
        "Health": obj({"status": {"type": "string", "const": "ok"}}, ("status",)),
        **_namespace_schemas(),
        "Event": obj(
            {
                "user": STRING,
                "mailbox": STRING,
                "uid": UID,
                "flags": {**FLAGS, "description": "The flags now (delivered and flags events)."},
            },
            ("user", "mailbox", "uid"),
            description="The JSON `data` of one Server-Sent Event.",
        ),
        **_transcript_schemas(),
        **_oauth_schemas(),
        **_webhook_schemas(),
        **_release_schemas(),
    }


def _webhook_schemas() -> dict[str, Schema]:
    from elektromail.http.webhooks import openapi_schemas

    return openapi_schemas()


def _release_schemas() -> dict[str, Schema]:
    from elektromail.http.release import openapi_schemas

    return openapi_schemas()


def _oauth_schemas() -> dict[str, Schema]:
    from elektromail.http.oauth import openapi_schemas

    return openapi_schemas()


def _transcript_schemas() -> dict[str, Schema]:
    from elektromail.http.transcripts import openapi_schemas

    return openapi_schemas()
