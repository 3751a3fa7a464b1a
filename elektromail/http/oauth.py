"""The routes of the OAuth token map (`--oauth tokens`): POST /oauth/tokens mints a token for
a user, GET /oauth/tokens lists them, DELETE /oauth/tokens/{token} revokes one. Scoped by
namespace: a namespace's request names its own users and sees its own tokens only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from elektromail.http.jsonio import bad_request, not_found, read_json_object
from elektromail.oauth import Grant, parse_expiry, parse_scopes

MAX_EXPIRES_IN = 10 * 365 * 24 * 3600
MAX_TOKEN = 4096
PRINTABLE = "^[^\\x00-\\x1f\\x7f-\\x9f]+$"  # what str.isprintable takes, near enough


def add_oauth_routes(api) -> None:
    """Route the token map's API on `api` (a ControlAPI)."""
    routes = OAuthRoutes(api)
    api._add("/oauth/tokens", "POST", routes.create)
    api._add("/oauth/tokens", "GET", routes.list)
    api._add("/oauth/tokens/<token>", "DELETE", routes.delete)


def _when(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    try:
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        when = datetime.min.replace(tzinfo=UTC) if seconds < 0 else datetime.max.replace(tzinfo=UTC)
    return when.isoformat().replace("+00:00", "Z")


class OAuthRoutes:
    def __init__(self, api) -> None:
        self.api = api
        self.postoffice = api.postoffice

    def _described(self, request, grant: Grant) -> dict[str, Any]:
        return {
            "user": self.postoffice.unqualify(grant.user, self.api.scope(request)),
            "token": grant.token,
            "expiry": _when(grant.expires),
            "scope": " ".join(grant.scopes),
        }

    def _mine(self, request, grant: Grant) -> bool:
        return self.postoffice.namespace_of_user(grant.user) == self.api.scope(request)

    async def create(self, request):
        from elektromail.http.app import JSONReply

        body = read_json_object(request)
        unknown = sorted(set(body) - {"user", "token", "expires_in", "expiry", "scope"})
        if unknown:
            raise bad_request(f"field {unknown[0][:40]!r}: unknown")
        for name, value in body.items():
            if value is None:
                raise bad_request(f"field {name!r}: null; leave it out instead")
        user = body.get("user")
        if not isinstance(user, str) or not re.fullmatch(PRINTABLE, user):
            raise bad_request("field 'user': expected a non-empty string")
        token = body.get("token")
        if token is not None and (
            not isinstance(token, str)
            or not token.strip()
            or len(token) > MAX_TOKEN
            or not re.fullmatch(PRINTABLE, token)
            or token != token.strip()
        ):
            raise bad_request(
                f"field 'token': expected printable text of at most {MAX_TOKEN} characters"
            )
        if "expires_in" in body and "expiry" in body:
            raise bad_request("fields 'expires_in' and 'expiry': give one or neither")
        expires = None
        expires_in = body.get("expires_in")
        if expires_in is not None:
            if (
                isinstance(expires_in, bool)
                or not isinstance(expires_in, int | float)
                or not -MAX_EXPIRES_IN <= expires_in <= MAX_EXPIRES_IN
            ):
                raise bad_request("field 'expires_in': expected seconds (negative: expired)")
            expires = self.postoffice._now() + expires_in
        try:
            if body.get("expiry") is not None:
                expires = parse_expiry(body["expiry"])
                if not isinstance(body["expiry"], str) and not 0 <= expires < 1e11:
                    raise ValueError("expiry: epoch seconds from 0 to 1e11")
            scopes = parse_scopes(body.get("scope"))
        except ValueError as e:
            raise bad_request(f"field {e}") from None
        if expires is not None and not -1e11 < expires < 1e11:
            raise bad_request("field 'expiry': out of range")
        name = self.api.qualified(request, user)
        grant = self.postoffice.mint_token(name, token, expires, scopes)
        return JSONReply(self._described(request, grant), 201)

    async def list(self, request) -> list[dict[str, Any]]:
        return [
            self._described(request, grant)
            for grant in self.postoffice.oauth_tokens.grants()
            if self._mine(request, grant)
        ]

    async def delete(self, request, token: str) -> dict[str, Any]:
        grant = self.postoffice.oauth_tokens.get(token)
        if grant is None or not self._mine(request, grant):
            raise not_found("no such token")
        self.postoffice.oauth_tokens.remove(token)
        return {"ok": True}


# --- OpenAPI --------------------------------------------------------------------------------


def openapi_schemas() -> dict[str, Any]:
    from elektromail.http.openapi_schemas import nullable, obj

    scope = {
        "type": "string",
        "description": "Space-separated scopes; empty: any protocol. `https://mail.google.com/` "
        "and `mail` grant every protocol; Microsoft's `https://outlook.office.com/"
        "SMTP.Send`, `IMAP.AccessAsUser.All`, `POP.AccessAsUser.All`, or `smtp`, `imap`, "
        "`pop3`, grant one.",
    }
    token = {
        "user": {"type": "string", "description": "Whom it signs in (as the namespace names it)."},
        "token": {"type": "string"},
        "expiry": nullable(
            {"type": "string", "format": "date-time", "description": "null: never."}
        ),
        "scope": scope,
    }
    new = {
        "user": {"type": "string", "minLength": 1, "pattern": PRINTABLE},
        "token": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TOKEN,
            # printable (as PRINTABLE) throughout, no white space at either end
            "pattern": "^[^\\s\\x00-\\x1f\\x7f-\\x9f]"
            "([^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f])?$",
            "description": "The token to accept; a random one when not given.",
        },
        "expires_in": {
            "type": "number",
            "minimum": -MAX_EXPIRES_IN,
            "maximum": MAX_EXPIRES_IN,
            "description": "Seconds from now (negative: already expired). Not with `expiry`.",
        },
        "expiry": {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "number", "minimum": 0, "exclusiveMaximum": 1e11},
            ],
            "description": "ISO 8601 (UTC when no zone is given) or epoch seconds.",
        },
        "scope": {
            "anyOf": [scope, {"type": "array", "items": {"type": "string"}}],
        },
    }
    return {
        "OAuthToken": obj(token, tuple(token)),
        "NewOAuthToken": obj(
            new,
            ("user",),
            additionalProperties=False,
            **{"not": {"required": ["expires_in", "expiry"]}},
        ),
    }


def openapi_paths() -> dict[str, Any]:
    from elektromail.http.openapi import _op
    from elektromail.http.openapi_schemas import json_body, ref

    return {
        "/oauth/tokens": {
            "post": _op(
                "users",
                "Mint an OAuth2 access token for XOAUTH2 / OAUTHBEARER sign-in",
                ("201", json_body(ref("schemas", "OAuthToken"), "The token.")),
                ("BadRequest", "Unauthorized", "TooLarge"),
                operationId="createOAuthToken",
                description="With `--oauth tokens` only tokens of this map sign in, for "
                "their user, before their expiry, over a protocol their scope grants; any "
                "other gets the RFC 7628 error challenge and the protocol's failure. Kept in "
                "memory; /reset returns to ELEKTROMAIL_OAUTH_TOKENS.",
                requestBody={
                    "required": True,
                    **json_body(ref("schemas", "NewOAuthToken"), "Whom, and how long."),
                },
            ),
            "get": _op(
                "users",
                "The OAuth2 tokens in force",
                (
                    "200",
                    json_body(
                        {"type": "array", "items": ref("schemas", "OAuthToken")},
                        "Configured and minted tokens (of the namespace's users).",
                    ),
                ),
                ("Unauthorized",),
                operationId="listOAuthTokens",
            ),
        },
        "/oauth/tokens/{token}": {
            "parameters": [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "delete": _op(
                "users",
                "Revoke an OAuth2 token",
                ("200", json_body(ref("schemas", "Ok"), "Revoked.")),
                ("Unauthorized", "NotFound"),
                operationId="deleteOAuthToken",
            ),
        },
    }
