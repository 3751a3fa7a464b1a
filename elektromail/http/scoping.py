"""Which namespace an HTTP request works in, and with what authority: the server's token (or
none configured) may name any namespace with `?namespace=`; a namespace's scoped token works
in its namespace only, and naming another is a 403. What a namespace may see is decided by the
post office; this module only reads the request."""

from __future__ import annotations

from dataclasses import dataclass

from elektromail.http.auth import TokenCheck, offered_token
from elektromail.http.jsonio import ApiError, bad_request, query_text
from elektromail.names import InvalidInput
from elektromail.postoffice.namespaces import (
    TOKEN_PREFIX,
    NoNamespace,
    check_namespace_name,
)

_ATTRIBUTE = "elektromail_authority"
_INVALID_TOKEN = {b"WWW-Authenticate": b'Bearer realm="elektromail", error="invalid_token"'}


@dataclass(frozen=True, slots=True)
class Authority:
    """What a request may do: work in `namespace` (None: the default one); `scoped` when it
    holds a namespace's token rather than the server's."""

    namespace: str | None
    scoped: bool = False


class Scoper:
    """Callable: `scoper(request, query_allowed)` checks the token and `?namespace=`, remembers
    the answer on the request and returns its Authority; ApiError 400/401/403/404."""

    def __init__(self, postoffice, check_token: TokenCheck) -> None:
        self.postoffice = postoffice
        self.check_token = check_token

    def __call__(self, request, query_allowed: bool = False) -> Authority:
        offered = offered_token(request, query_allowed)
        wanted = self._wanted(request)
        authority = None
        if (
            offered is not None
            and offered.startswith(TOKEN_PREFIX.encode())
            and not self.check_token.matches(offered)
        ):
            namespace = self.postoffice.namespace_for_token(offered)
            if namespace is None:
                raise ApiError(401, "invalid namespace token (deleted or expired)", _INVALID_TOKEN)
            if wanted is not None and wanted != namespace.name:
                raise ApiError(403, f"this token is scoped to namespace {namespace.name!r}")
            authority = Authority(namespace.name, scoped=True)
        else:
            self.check_token(request, query_allowed=query_allowed)
            if wanted is not None:
                try:
                    self.postoffice.namespace(wanted)
                except NoNamespace:
                    raise ApiError(404, f"no namespace {wanted!r}") from None
            authority = Authority(wanted)
        self.postoffice.touch(authority.namespace)
        setattr(request, _ATTRIBUTE, authority)
        return authority

    def _wanted(self, request) -> str | None:
        name = query_text(request, "namespace")
        if not name:
            return None
        try:
            return check_namespace_name(name)
        except InvalidInput as e:
            raise bad_request(f"parameter 'namespace': {e}") from None

    def of(self, request) -> Authority:
        """The Authority of a request already checked (checking it now if not)."""
        authority = getattr(request, _ATTRIBUTE, None)
        if authority is None:
            authority = self(request)
        return authority
