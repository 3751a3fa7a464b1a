"""The OAuth desk: whether a bearer token signs a user in (XOAUTH2, OAUTHBEARER on every
protocol), by `--oauth` mode and the token map, and the tokens test suites mint.

`accept` takes any non-empty token for a known user (any user with auth disabled, and a
namespace's user with the namespace's token, as PLAIN does); `tokens` only the token map's,
for their user, unexpired, with a scope that grants the protocol.
"""

from __future__ import annotations

import secrets

from elektromail import oauth
from elektromail.names import InvalidInput, check_user_name, fold
from elektromail.oauth import Grant, TokenMap, Verdict
from elektromail.postoffice.desk import Desk

TOKEN_PREFIX = "elektromail-oauth-"


def _possible_user_name(name: str) -> bool:
    return bool(name) and name.isprintable()


class OAuthDesk(Desk):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.oauth_tokens = TokenMap(self.settings.oauth_tokens)

    async def verify_bearer(self, name: str, token: str, protocol: str) -> Verdict:
        """The user `token` signs `name` in as over `protocol`, or the RFC 6750 error why not."""
        if not token or not _possible_user_name(name):
            return Verdict(error=oauth.INVALID_TOKEN)
        namespace = self.namespace_of_user(name)
        if namespace is not None:
            self.touch(namespace)
            try:
                check_user_name(name[: -len(namespace) - 1])
            except InvalidInput:
                return Verdict(error=oauth.INVALID_TOKEN)
        may_create = self.settings.auth_disabled or namespace is not None
        if self.settings.oauth == "tokens":
            grant = self.oauth_tokens.get(token)
            if grant is None or fold(grant.user) != fold(name):
                return Verdict(error=oauth.INVALID_TOKEN)
            if grant.expires is not None and grant.expires <= self._now():
                return Verdict(error=oauth.INVALID_TOKEN)
            if not grant.grants(protocol):
                return Verdict(error=oauth.INSUFFICIENT_SCOPE)
        elif namespace is not None and not self.settings.auth_disabled:
            token_of = self.namespace_for_token(token)
            may_create = token_of is not None and token_of.name == namespace
        user = await self.store.get_user(name)
        if user is None and may_create:
            user, _ = await self.store.ensure_user(name, self.default_mailboxes)
        if user is None:
            return Verdict(error=oauth.INVALID_TOKEN)
        return Verdict(user)

    def mint_token(
        self,
        user: str,
        token: str | None = None,
        expires: float | None = None,
        scopes: tuple[str, ...] = (),
    ) -> Grant:
        """Add a token for `user` (a stored name) to the map; a random one when not given."""
        grant = Grant(user, token or TOKEN_PREFIX + secrets.token_urlsafe(24), expires, scopes)
        self.oauth_tokens.add(grant)
        return grant

    def forget_tokens(self, namespace: str | None = None) -> None:
        """At reset: the configured tokens only (of a namespace's reset: its tokens gone)."""
        if namespace is None:
            self.oauth_tokens.reset()
        else:
            self.oauth_tokens.reset(lambda g: self.namespace_of_user(g.user) != namespace)
