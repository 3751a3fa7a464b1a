"""The routes of namespaces: POST /namespaces makes one (and its scoped token), GET /namespaces
lists them for the server's token, GET and DELETE /namespaces/{ns} show and drop one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elektromail.http.jsonio import ApiError, bad_request, not_found, read_json_object
from elektromail.names import InvalidInput
from elektromail.postoffice.namespaces import NoNamespace, check_namespace_name
from elektromail.store.namespaces import NamespaceExists, NamespaceRow


def add_namespace_routes(api) -> None:
    """Route the namespaces API on `api` (a ControlAPI)."""
    routes = NamespaceRoutes(api)
    api._add("/namespaces", "POST", routes.create)
    api._add("/namespaces", "GET", routes.list)
    api._add("/namespaces/<name>", "GET", routes.show)
    api._add("/namespaces/<name>", "DELETE", routes.delete)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class NamespaceRoutes:
    def __init__(self, api) -> None:
        self.api = api
        self.postoffice = api.postoffice

    def _server_only(self, request, what: str) -> None:
        if self.api.authority(request).scoped:
            raise ApiError(403, f"{what} needs the server's token, not a namespace's")

    def _described(self, row: NamespaceRow) -> dict[str, Any]:
        suffix = self.api.settings.namespace_suffix
        return {
            "name": row.name,
            "domain": f"{row.name}.{suffix}",
            "login_suffix": f"@{row.name}",
            "created": _when(row.created),
            "last_used": _when(row.last_used),
            "users": row.users,
            "messages": row.messages,
        }

    async def create(self, request):
        from elektromail.http.app import JSONReply

        self._server_only(request, "making a namespace")
        request.content.seek(0)
        name = None
        if request.content.read().strip():
            body = read_json_object(request)
            unknown = sorted(set(body) - {"name"})
            if unknown:
                raise bad_request(f"field {unknown[0][:40]!r}: unknown")
            name = body.get("name")
            if name is not None and not isinstance(name, str):
                raise bad_request("field 'name': expected a string")
            if name is not None:
                try:
                    name = check_namespace_name(name)
                except InvalidInput as e:
                    raise bad_request(f"field 'name': {e}") from None
        try:
            namespace, token = await self.postoffice.create_namespace(name)
        except NamespaceExists as e:
            raise ApiError(409, str(e)) from None
        out = self._described(
            NamespaceRow(namespace.name, "", namespace.created, namespace.last_used)
        )
        out["token"] = token
        return JSONReply(out, 201)

    async def list(self, request) -> list[dict[str, Any]]:
        self._server_only(request, "listing the namespaces")
        rows = await self.postoffice.list_namespaces()
        return [self._described(row) for row in rows]

    def _named(self, request, name: str) -> str:
        try:
            name = check_namespace_name(name)
        except InvalidInput:  # a name no namespace can have names none
            raise not_found(f"no namespace {name[:80]!r}") from None
        authority = self.api.authority(request)
        if authority.scoped and authority.namespace != name:
            raise ApiError(403, f"this token is scoped to namespace {authority.namespace!r}")
        try:
            return self.postoffice.namespace(name).name
        except NoNamespace:
            raise not_found(f"no namespace {name!r}") from None

    async def show(self, request, name: str) -> dict[str, Any]:
        name = self._named(request, name)
        for row in await self.postoffice.list_namespaces():
            if row.name == name:
                return self._described(row)
        raise not_found(f"no namespace {name!r}")

    async def delete(self, request, name: str) -> dict[str, Any]:
        name = self._named(request, name)
        try:
            await self.postoffice.delete_namespace(name)
        except NoNamespace:
            raise not_found(f"no namespace {name!r}") from None
        return {"ok": True}
