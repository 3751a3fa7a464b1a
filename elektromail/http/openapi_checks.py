"""The OpenAPI entries of the message-check routes (elektromail/http/checks.py): their paths and
component schemas, merged into the document by elektromail/http/openapi.py. Pure data."""

from __future__ import annotations

from typing import Any

from elektromail.checks import CHECK_NAMES
from elektromail.checks.findings import SEVERITIES
from elektromail.http.openapi_schemas import STRING, Schema, json_body, nullable, obj, ref

_COUNT = {"type": "integer", "minimum": 0}
_DNS_NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 254,
    "pattern": r"^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$",
}


def schemas() -> dict[str, Schema]:
    finding = obj(
        {
            "id": {**STRING, "description": "`check.rule`, e.g. `headers.no-date`."},
            "severity": {"type": "string", "enum": list(SEVERITIES)},
            "message": STRING,
            "where": obj(
                {
                    "header": STRING,
                    "line": nullable({"type": "integer", "minimum": 1}),
                    "part": nullable(STRING),
                    "signature": {"type": "integer", "minimum": 0},
                    "url": STRING,
                },
                description="Where it is: a header field name, a line of the message (1-based),"
                " an IMAP part number, a DKIM-Signature index (0 is the topmost), a URL.",
            ),
            "details": {
                "type": "object",
                "description": "Check-specific data: a DKIM verdict, the clients lacking an "
                "HTML feature, a link's status and redirects.",
            },
        },
        ("id", "severity", "message", "where"),
    )
    return {
        "Finding": finding,
        "Checks": obj(
            {
                "uid": {"type": "integer", "minimum": 1},
                "user": STRING,
                "mailbox": STRING,
                "checks": {
                    "type": "array",
                    "minItems": len(CHECK_NAMES),
                    "maxItems": len(CHECK_NAMES),
                    "items": obj(
                        {
                            "check": {"type": "string", "enum": list(CHECK_NAMES)},
                            "findings": {"type": "array", "items": ref("schemas", "Finding")},
                        },
                        ("check", "findings"),
                    ),
                },
                "summary": obj(
                    {"errors": _COUNT, "warnings": _COUNT, "infos": _COUNT},
                    ("errors", "warnings", "infos"),
                ),
            },
            ("uid", "user", "mailbox", "checks", "summary"),
        ),
        "DkimKeyIn": obj(
            {
                "selector": {**_DNS_NAME, "description": "The s= of the signatures it checks."},
                "domain": {**_DNS_NAME, "description": "The d= of the signatures it checks."},
                "record": {
                    "type": "string",
                    "maxLength": 16384,
                    "description": "The TXT record's value: `v=DKIM1; k=rsa; p=MIIB...`.",
                },
                "public_key": {
                    "type": "string",
                    "maxLength": 16384,
                    "description": "Or a PEM public key (RSA or Ed25519).",
                },
            },
            ("selector", "domain"),
            additionalProperties=False,
        ),
        "DkimKey": obj(
            {
                "selector": STRING,
                "domain": STRING,
                "name": {**STRING, "description": "`selector._domainkey.domain`"},
                "record": STRING,
                "source": {"type": "string", "enum": ["setting", "api"]},
            },
            ("selector", "domain", "name", "record", "source"),
        ),
        "DkimDeleted": obj(
            {"ok": {"type": "boolean", "const": True}, "deleted": _COUNT}, ("ok", "deleted")
        ),
    }


def paths(op, params) -> dict[str, Any]:
    """The paths, built with openapi.py's `_op` and `_params` (passed in: no import cycle)."""
    keys = {"type": "array", "items": ref("schemas", "DkimKey")}
    key_in = ref("schemas", "DkimKeyIn")
    selector = _query("selector", _DNS_NAME, "Only the keys of this selector.")
    domain = _query("domain", _DNS_NAME, "Only the keys of this domain.")
    return {
        "/messages/{uid}/checks": {
            "get": op(
                "messages",
                "Check a message: headers, DKIM, List-Unsubscribe, HTML, links",
                ("200", json_body(ref("schemas", "Checks"), "Every check's findings.")),
                ("BadRequest", "Unauthorized", "NotFound"),
                operationId="getMessageChecks",
                description="Header lint (RFC 5322, 2045-2047, 6532), DKIM verification with "
                "the keys of --dkim-keys and PUT /dkim/keys (never DNS), List-Unsubscribe and "
                "RFC 8058 one-click, HTML and CSS support per client family from caniemail.com's "
                "data, and with `links=1` each web link probed (HEAD, then GET) with "
                "--link-check-timeout per link, at most --link-check-max links.",
                parameters=[
                    *params("uid", "messageUser", "messageMailbox"),
                    _query(
                        "links",
                        {
                            "anyOf": [
                                {"type": "boolean"},
                                {
                                    "type": "string",
                                    "enum": ["", "1", "0", "yes", "no", "on", "off"],
                                },
                            ],
                            "default": False,
                        },
                        "Probe the message's web links too (off: they are only counted).",
                    ),
                ],
            )
        },
        "/dkim/keys": {
            "get": op(
                "checks",
                "The DKIM public keys message checks verify with",
                ("200", json_body(keys, "Every key, by domain and selector.")),
                operationId="listDkimKeys",
            ),
            "put": op(
                "checks",
                "Add DKIM public keys (each replaces the key of its selector and domain)",
                ("200", json_body(keys, "The keys stored.")),
                ("BadRequest", "Unauthorized", "TooLarge"),
                operationId="putDkimKeys",
                description="One key object or a list of up to 1000; each gives `record` (the "
                "TXT value) or `public_key` (PEM). A bad key in a list stores none of them.",
                requestBody={
                    "required": True,
                    **json_body(
                        {"anyOf": [key_in, {"type": "array", "items": key_in, "minItems": 1}]},
                        "The keys.",
                    ),
                },
            ),
            "delete": op(
                "checks",
                "Remove DKIM keys: those of `selector` and/or `domain`, or all",
                ("200", json_body(ref("schemas", "DkimDeleted"), "How many were removed.")),
                ("BadRequest", "Unauthorized"),
                operationId="deleteDkimKeys",
                parameters=[selector, domain],
            ),
        },
    }


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }
