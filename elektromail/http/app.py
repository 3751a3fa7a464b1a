"""The HTTP control plane: a Klein app over the post office, for test suites to inject, list,
wait for and read mail, manage users and delivery rules, and reset the server.

Every answer is JSON (errors are `{"error": ...}`), every route is a coroutine on the one
reactor, and every route that reads or changes state checks the bearer token when one is set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from klein import Klein
from twisted.logger import Logger
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from elektromail import rules
from elektromail.checks.keys import KeyRing
from elektromail.config import Settings
from elektromail.http import bodies, live, render
from elektromail.http.auth import TokenCheck
from elektromail.http.checks import add_checks_routes
from elektromail.http.docs import add_docs_routes
from elektromail.http.download import download_headers
from elektromail.http.health import healthy
from elektromail.http.jsonio import (
    ApiError,
    bad_request,
    not_found,
    path_index,
    path_uid,
    query_bool,
    query_int,
    query_number,
    query_text,
    read_json,
    read_json_object,
    shown_number,
    write_error,
    write_json,
)
from elektromail.http.metrics import add_metrics_routes
from elektromail.http.namespaces import add_namespace_routes
from elektromail.http.oauth import add_oauth_routes
from elektromail.http.openapi import MAX_PAGE  # messages one listing page may ask for
from elektromail.http.release import add_release_routes
from elektromail.http.scoping import Authority, Scoper
from elektromail.http.site import ControlFactory, ControlSite, store_unavailable
from elektromail.http.transcripts import add_transcript_routes
from elektromail.http.ui import add_ui_routes
from elektromail.http.waiting import (
    MessageUid,
    add_wait_routes,
    after_param,
    api_extraction_json,
    listing_query,
    pattern_param,
)
from elektromail.http.webhooks import add_webhooks_routes
from elektromail.names import INBOX, InvalidInput, canonical_mailbox, check_mailbox_name
from elektromail.postoffice import PostOffice
from elektromail.postoffice.namespaces import NoNamespace
from elektromail.postoffice.quotas import Quota
from elektromail.store import NoSuchUser, UserExists
from elektromail.store.errors import StoreUnavailable

log = Logger()

Handler = Callable[..., Awaitable[Any]]


class JSONReply:
    """A handler's answer other than a plain 200 JSON value."""

    def __init__(self, value: Any, status: int = 200) -> None:
        self.value = value
        self.status = status


class ControlAPI:
    """The routes of issue 6's table on one Klein app (`self.app`); `port(name)` gives the
    bound port of a listener ("smtp", "imap", "http") or None when it is off."""

    def __init__(
        self,
        postoffice: PostOffice,
        settings: Settings,
        port: Callable[[str], int | None],
        reactor=None,
        dkim_keys: KeyRing | None = None,
        webhooks=None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.reactor = reactor
        # The keys message checks verify DKIM with (the server's, shared with elektromail.testing).
        self.dkim_keys = (
            KeyRing.from_setting(settings.dkim_keys) if dkim_keys is None else dkim_keys
        )
        self.postoffice = postoffice
        self.webhooks = webhooks  # http/webhooks.Webhooks, for GET /webhooks; None: no URLs
        self.events = postoffice.events
        self.settings = settings
        self._port = port
        self._bound: dict[str, int] = {}
        self.check_token = TokenCheck(settings.http_token)
        self.authorize = Scoper(postoffice, self.check_token)
        self.app = Klein()
        self.app.url_map.converters["uid"] = MessageUid  # any segment but "wait"
        self._add_routes()
        self._add_error_handlers()
        add_docs_routes(self.app, self.check_token)  # /openapi.json, /docs and its assets
        add_ui_routes(self.app)  # the web inbox: /, /ui/... and /assets/

    def port(self, name: str) -> int | None:
        """The port listener `name` is bound to (remembered: it does not change while the
        server runs, and a listener that stopped still had it)."""
        if name not in self._bound:
            bound = self._port(name)
            if bound is None:
                return None
            self._bound[name] = bound
        return self._bound[name]

    def factory(self) -> ControlFactory:
        """The factory to listen with."""
        site = ControlSite(self.app.resource(), self.settings.max_message_size)
        return ControlFactory(site)

    # --- routing ---------------------------------------------------------------------------

    def _add_routes(self) -> None:
        add = self._add
        add("/reset", "POST", self.reset)
        add("/purge", "POST", self.purge)
        add("/inject", "POST", self.inject)
        add("/users", "GET", self.list_users)
        add("/users", "POST", self.add_user)
        add("/users/<user>", "DELETE", self.delete_user)
        add("/users/<user>/quota", "GET", self.get_quota)
        add("/users/<user>/quota", "PUT", self.put_quota)
        add("/config", "GET", self.config)
        add("/messages", "GET", self.list_messages)
        add_wait_routes(self)  # GET /messages/wait
        add("/messages/<uid:uid>", "GET", self.get_message)
        add("/messages/<uid:uid>", "PATCH", self.patch_message)
        add("/messages/<uid:uid>", "DELETE", self.delete_message)
        add("/messages/<uid>/raw", "GET", self.get_raw)
        add("/messages/<uid>/attachments/<index>", "GET", self.get_attachment)
        add("/mailboxes", "GET", self.list_mailboxes)
        add("/rules", "GET", self.get_rules)
        add("/rules", "PUT", self.put_rules)
        add("/events", "GET", self.stream_events, token="query")
        add("/healthz", "GET", self.health, token=None)
        add_checks_routes(self)  # /messages/{uid}/checks and /dkim/keys
        add_namespace_routes(self)
        add_transcript_routes(self)
        add_oauth_routes(self)
        add_webhooks_routes(self)
        add_release_routes(self)  # POST /messages/{uid}/release
        add_metrics_routes(self)  # GET /metrics

    def _add(self, path: str, method: str, handler: Handler, token: str | None = "header") -> None:
        """Route `method path` to `handler(request, **path values)`, after the token check
        (`token`: "header", "query" to accept `?token=` too, or None for an open route)."""

        async def endpoint(request, **values):
            if token is not None:
                self.authorize(request, query_allowed=token == "query")
            result = await handler(request, **values)
            if isinstance(result, bytes):
                return result
            if isinstance(result, JSONReply):
                return write_json(request, result.value, result.status)
            return write_json(request, result)

        name = f"{method.lower()} {path}"
        self.app.route(path, methods=[method], endpoint=name)(endpoint)

    def _add_error_handlers(self) -> None:
        @self.app.handle_errors(ApiError)
        def api_error(request, failure):
            return write_error(request, failure.value)

        # Before the catch-all: a full or read-only store is a 503 to retry, not a 500.
        @self.app.handle_errors(StoreUnavailable)
        def store_failure(request, failure):
            self.postoffice.metrics.error("store_unavailable")  # GET /metrics
            return store_unavailable(request, failure.value)

        @self.app.handle_errors(HTTPException)
        def routing_error(request, failure):
            return write_error(request, _from_werkzeug(request, failure.value))

        @self.app.handle_errors(Exception)
        def internal_error(request, failure):
            log.failure(
                "HTTP {method} {uri} failed", failure, method=request.method, uri=request.uri
            )
            return write_error(request, ApiError(500, "internal server error"))

    # --- namespaces: every route works in the request's namespace ----------------------------

    def authority(self, request) -> Authority:
        """The request's token and namespace, as checked before its handler ran."""
        return self.authorize.of(request)

    def scope(self, request) -> str | None:
        """The namespace a request works in (None: the default one): `?namespace=`, or the
        one its scoped token implies. Routes pass it to the post office."""
        return self.authorize.of(request).namespace

    def qualified(self, request, name: str) -> str:
        """The stored name of user `name` as the request's namespace names it. From the
        default namespace a namespace's user is nobody (404)."""
        try:
            return self.postoffice.qualify(name, self.scope(request))
        except NoNamespace:
            raise not_found(f"no user {name!r}") from None

    def query_user(self, request) -> str | None:
        """The `user` query parameter as a stored user name of the request's namespace, or
        None when not given: read it with this, not query_text, so a route is scoped."""
        name = query_text(request, "user") or None
        return None if name is None else self.qualified(request, name)

    def shown(self, request, name: str) -> str:
        """A stored user name as the request's namespace shows it (without `@<ns>`)."""
        return self.postoffice.unqualify(name, self.scope(request))

    def shown_item(self, request, item: dict[str, Any]) -> dict[str, Any]:
        """`item` (a rendered message, mailbox or event) with its `user` as shown."""
        if self.scope(request) is not None and isinstance(item.get("user"), str):
            item = dict(item, user=self.shown(request, item["user"]))
        return item

    def belongs(self, request) -> Callable[[str], bool] | None:
        """Whether an event's user is in the request's namespace (None: all are, since no
        namespace exists), for the long-poll and the event stream."""
        namespace = self.scope(request)
        if namespace is None and not self.postoffice.namespaces:
            return None
        namespace_of = self.postoffice.namespace_of_user
        return lambda user: namespace_of(user) == namespace

    # --- state -----------------------------------------------------------------------------

    async def reset(self, request) -> dict[str, Any]:
        scope = self.scope(request)
        await self.postoffice.reset(scope)
        if scope is None:  # the keys are the server's: a namespace's reset leaves them
            self.dkim_keys.reset()  # the keys of --dkim-keys only, as at start-up
        return {"ok": True}

    async def purge(self, request) -> dict[str, Any]:
        deleted = await self.postoffice.purge(self.scope(request))
        return {"ok": True, "deleted": deleted}

    async def inject(self, request) -> JSONReply:
        given = bodies.parse_injection(read_json_object(request), self.settings.max_message_size)
        user = self.qualified(request, given.user)
        try:
            uid = await self.postoffice.inject(
                user,
                given.mailbox,
                given.raw,
                flags=given.flags,
                internal_date=given.internal_date,
                tz_minutes=given.tz_minutes,
            )
        except NoSuchUser:
            raise not_found(f"no user {given.user!r}") from None
        except InvalidInput as e:  # the body was checked: a name the store still refuses
            raise bad_request(f"field 'mailbox': {e}") from None
        return JSONReply({"uid": uid}, 201)

    # --- users -----------------------------------------------------------------------------

    async def list_users(self, request) -> list[dict[str, Any]]:
        with_email = query_bool(request, "include_email")
        users = await self.postoffice.list_users(self.scope(request))
        if with_email:
            return [{"user": self.shown(request, u.name), "email": u.email} for u in users]
        return [{"user": self.shown(request, u.name)} for u in users]

    async def add_user(self, request) -> JSONReply:
        given = bodies.parse_new_user(read_json_object(request))
        try:
            user = await self.postoffice.add_user(
                given.user, given.password, given.email, namespace=self.scope(request)
            )
        except UserExists as e:  # the name (any case) or the email address is taken
            raise ApiError(409, str(e)) from None
        return JSONReply({"user": self.shown(request, user.name), "email": user.email}, 201)

    async def delete_user(self, request, user: str) -> dict[str, Any]:
        try:
            await self.postoffice.delete_user(self.qualified(request, user))
        except NoSuchUser:
            raise not_found(f"no user {user!r}") from None
        return {"ok": True}

    async def get_quota(self, request, user: str) -> dict[str, Any]:
        try:
            quota = await self.postoffice.quota(self.qualified(request, user))
        except NoSuchUser:
            raise not_found(f"no user {user!r}") from None
        return _quota_json(quota)

    async def put_quota(self, request, user: str) -> dict[str, Any]:
        storage, messages = bodies.parse_quota(read_json_object(request))
        try:
            quota = await self.postoffice.set_quota(
                self.qualified(request, user), storage, messages
            )
        except NoSuchUser:
            raise not_found(f"no user {user!r}") from None
        return _quota_json(quota)

    # --- configuration ---------------------------------------------------------------------

    async def config(self, request) -> dict[str, Any]:
        s = self.settings
        ports = {name: self.port(name) for name in ("smtp", "imap", "http", "pop3")}
        namespace = self.scope(request)
        users = await self.postoffice.list_users(namespace)
        out: dict[str, Any] = {}
        for name, port in ports.items():
            out[f"{name}_addr"] = None if port is None else _address(s.bind, port)
        for name, port in ports.items():
            out[f"{name}_port"] = port
        for name, port in ports.items():
            out[f"{name}_enabled"] = port is not None
        out.update(
            # STARTTLS is offered on every plain SMTP and IMAP port (a generated certificate
            # when none is configured).
            smtp_starttls=ports["smtp"] is not None,
            imap_starttls=ports["imap"] is not None,
            pop3s_port=self.port("pop3s"),  # implicit TLS; the plain POP3 port offers STLS
            storage=s.storage,
            storage_path=s.storage_path,
            http_token_required=self.check_token.required,
            auth_disabled=s.auth_disabled,
            user_count=len(users),
            oauth=s.oauth,
            # A namespace's token (a test job's) sees where webhooks go, not their paths and
            # queries: Slack-style URLs carry their secret there.
            webhook_urls=[url if namespace is None else _origin_of(url) for url in s.webhook_urls],
            webhook_signed=s.webhook_secret is not None,
            webhook_timeout=s.webhook_timeout,
            webhook_queue=s.webhook_queue,
            **_relay_config(s),
            max_messages=s.max_messages,
            max_age=s.max_age,
            workers=s.workers,
        )
        return out

    async def health(self, request) -> JSONReply:
        ok = await healthy(self.reactor, self.settings.bind, self.port, self.postoffice.ping)
        return JSONReply({"status": "ok"}) if ok else JSONReply({"error": "unhealthy"}, 503)

    # --- messages --------------------------------------------------------------------------

    async def list_messages(self, request) -> dict[str, Any]:
        namespace = self.scope(request)
        user = self.query_user(request)
        mailbox = await self.mailbox_filter(request)
        terms = listing_query(request)  # q (elektromail.mailquery), subject, from, to
        after = after_param(request)
        newest = _order(request) == "newest"
        limit = query_int(request, "limit", 1, MAX_PAGE)
        offset = query_int(request, "offset", 0) or 0
        wait = query_number(request, "wait", 0, live.MAX_WAIT)
        count = query_int(request, "count", 0)

        async def query():
            return await self.postoffice.query_messages(
                user,
                mailbox,
                terms,
                after=after,
                newest_first=newest,
                limit=limit,
                offset=offset,
                namespace=namespace,
            )

        if wait is None:
            page, timed_out = await query(), False
        else:
            page, timed_out = await live.wait_for(
                self.reactor,
                self.events,
                query,
                1 if count is None else count,
                wait,
                user,
                mailbox,
                measure=lambda answer: answer.total,  # matching messages, on any page
                belongs=self.belongs(request),
            )
        items = [self.shown_item(request, render.list_item(s)) for s in page.messages]
        return {
            "messages": items,
            "count": len(items),
            "total": page.total,
            "timed_out": timed_out,
            "cursor": page.cursor,
        }

    async def mailbox_filter(self, request) -> str | None:
        """`?mailbox=` of a listing, a wait or the event stream; None when absent. A 400 naming
        the problem for a name no mailbox can have (elektromail.names' rule, so `&AOk-` says to
        give `é`), unless a mailbox stored under the older rule has it."""
        mailbox = query_text(request, "mailbox") or None
        if mailbox is None:
            return None
        try:
            check_mailbox_name(mailbox)
        except InvalidInput as e:
            boxes = await self.postoffice.mailbox_summaries(
                self.query_user(request), self.scope(request)
            )
            if all(box.mailbox != canonical_mailbox(mailbox) for box in boxes):
                raise bad_request(f"parameter 'mailbox': {e}") from None
        return mailbox

    async def list_mailboxes(self, request) -> list[dict[str, Any]]:
        user = self.query_user(request)
        boxes = await self.postoffice.mailbox_summaries(user, self.scope(request))
        if user is not None and not boxes and await self.postoffice.find_user(user) is None:
            raise not_found(f"no user {self.shown(request, user)!r}")
        return [
            {
                "user": self.shown(request, b.user),
                "mailbox": b.mailbox,
                "messages": b.messages,
                "unseen": b.unseen,
            }
            for b in boxes
        ]

    async def get_message(self, request, uid: str) -> dict[str, Any]:
        pattern = pattern_param(request)
        mailto = query_bool(request, "mailto")
        base64_always = _raw_form(request) == "base64"
        summary = await self._message(request, uid)
        out = self.shown_item(request, render.detail(summary, base64_always=base64_always))
        out.update(api_extraction_json(summary, pattern=pattern, mailto=mailto))  # links, codes
        return out

    async def get_raw(self, request, uid: str) -> bytes:
        summary = await self._message(request, uid)
        request.setHeader(b"Content-Type", b"message/rfc822")
        request.setHeader(b"Cache-Control", b"no-store")
        return summary.raw

    async def patch_message(self, request, uid: str) -> dict[str, Any]:
        add, remove = bodies.parse_flag_switches(read_json_object(request))
        user, mailbox, number = await self._address(request, uid)
        try:
            found = await self.postoffice.change_flags(user, mailbox, number, add, remove)
        except InvalidInput as e:  # not expected: the switches name system flags
            raise bad_request(str(e)) from None
        if found is None:
            raise await self._why_missing(user, mailbox, number, request)
        summary = await self.postoffice.get_message(found.user, found.mailbox, number, raw=False)
        if summary is None:  # deleted in between
            raise await self._why_missing(user, mailbox, number, request)
        return self.shown_item(request, render.list_item(summary))

    async def delete_message(self, request, uid: str) -> dict[str, Any]:
        user, mailbox, number = await self._address(request, uid)
        if await self.postoffice.delete_message(user, mailbox, number) is None:
            raise await self._why_missing(user, mailbox, number, request)
        return {"ok": True}

    async def get_attachment(self, request, uid: str, index: str) -> bytes:
        summary = await self._message(request, uid)
        number = path_index(index)
        found = None if number is None else render.attachment(summary, number)
        if found is None:
            raise not_found(
                f"no attachment {shown_number(index)} in message {summary.uid} of"
                f" {self.shown(request, summary.user)}/{summary.mailbox}"
            )
        for name, value in download_headers(found.content_type, found.filename).items():
            request.setHeader(name, value)
        return found.data

    async def _address(self, request, uid_text: str) -> tuple[str, str, int]:
        """(user, mailbox, uid) of the message a request names by path and query, the user's
        stored name in the request's namespace."""
        uid = path_uid(uid_text)
        user = self.query_user(request) or await self._only_user_with_mail(request)
        mailbox = query_text(request, "mailbox") or INBOX
        return user, mailbox, uid

    async def _message(self, request, uid_text: str):
        user, mailbox, uid = await self._address(request, uid_text)
        summary = await self.postoffice.get_message(user, mailbox, uid)
        if summary is None:
            raise await self._why_missing(user, mailbox, uid, request)
        return summary

    async def _only_user_with_mail(self, request=None) -> str:
        namespace = None if request is None else self.scope(request)
        users = await self.postoffice.users_with_mail(namespace)
        if len(users) == 1:
            return users[0]
        if not users:
            raise not_found("no message: nobody has mail")
        shown = [self.postoffice.unqualify(u, namespace) for u in users]
        raise bad_request(
            "parameter 'user': required when more than one user has mail ("
            + ", ".join(shown[:10])
            + (", ..." if len(users) > 10 else "")
            + ")"
        )

    async def _why_missing(self, user: str, mailbox: str, uid: int, request=None) -> ApiError:
        if request is not None:
            user_shown = self.shown(request, user)
            row = await self.postoffice.find_user(user)
            if row is None:
                return not_found(f"no user {user_shown!r}")
            if await self.postoffice.find_mailbox(row, mailbox) is None:
                return _no_mailbox(mailbox, user_shown)
            return not_found(f"no message with UID {uid} in {user_shown}/{mailbox}")
        row = await self.postoffice.find_user(user)
        if row is None:
            return not_found(f"no user {user!r}")
        if await self.postoffice.find_mailbox(row, mailbox) is None:
            return _no_mailbox(mailbox, user)
        return not_found(f"no message with UID {uid} in {user}/{mailbox}")

    # --- rules -----------------------------------------------------------------------------

    async def get_rules(self, request) -> list[dict[str, Any]]:
        return self.postoffice.rules_of(self.scope(request)).to_json()

    async def put_rules(self, request) -> list[dict[str, Any]]:
        data = read_json(request)
        if isinstance(data, list):  # a field given as null means the same as one left out
            data = [_without_nulls(item) for item in data]
        try:
            ruleset = rules.parse(data, self.settings.rules_seed)
        except rules.RuleError as e:
            raise bad_request(str(e)) from None
        self.postoffice.replace_rules(ruleset, self.scope(request))
        return ruleset.to_json()

    # --- events ----------------------------------------------------------------------------

    async def stream_events(self, request) -> bytes:
        user = self.query_user(request)
        mailbox = await self.mailbox_filter(request)
        stream = live.EventStream(
            request,
            self.events,
            self.reactor,
            user,
            mailbox,
            belongs=self.belongs(request),
            shown=lambda name: self.shown(request, name),
        )
        if request.method == b"HEAD":
            stream.start()
            return b""
        await stream.run()
        return b""


def _relay_config(s: Settings) -> dict[str, Any]:
    """The release settings /config shows: never the password, only whether one is set."""
    from elektromail.relay import relay_port

    return {
        "relay_host": s.relay_host,
        "relay_port": None if s.relay_host is None else relay_port(s),
        "relay_tls": s.relay_tls,
        "relay_tls_verify": s.relay_tls_verify,
        "relay_user": s.relay_user,
        "relay_password_set": s.relay_password is not None,
        "relay_allow": list(s.relay_allow),
        "relay_timeout": s.relay_timeout,
    }


def _raw_form(request) -> str:
    """GET /messages/{uid}'s `raw`: `text` (raw_base64 only where raw is lossy) or `base64`."""
    form = query_text(request, "raw")
    if form in (None, "", "text", "base64"):
        return form or "text"
    raise bad_request("parameter 'raw': expected 'text' or 'base64'")


def _order(request) -> str:
    order = query_text(request, "order")
    if order is None:
        return "oldest"
    if order not in ("oldest", "newest"):
        raise bad_request("parameter 'order': expected 'oldest' or 'newest'")
    return order


def _without_nulls(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {key: value for key, value in item.items() if value is not None}


def _address(bind: str, port: int) -> str:
    return f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"


def _from_werkzeug(request, error: HTTPException) -> ApiError:
    """Klein's routing errors (HTML by default) as JSON."""
    method = request.method.decode("ascii", "replace")
    path = request.path.decode("utf-8", "replace")
    if isinstance(error, NotFound):
        return ApiError(404, f"no route {path}")
    if isinstance(error, MethodNotAllowed):
        allowed = sorted(error.valid_methods or ())
        headers = {b"Allow": ", ".join(allowed).encode("ascii")}
        return ApiError(405, f"method {method} not allowed on {path}", headers)
    headers = {}
    location = getattr(error, "new_url", None)
    if location:
        headers[b"Location"] = location.encode("utf-8")
    return ApiError(error.code or 400, error.description or error.name, headers)


def _quota_json(quota: Quota) -> dict[str, Any]:
    """A user's limits in force (null: none), their own ones (null: the server's) and usage."""
    return {
        "storage": {
            "used": quota.storage_used,
            "limit": quota.storage_limit,
            "own": quota.own_storage,
        },
        "messages": {
            "used": quota.messages_used,
            "limit": quota.messages_limit,
            "own": quota.own_messages,
        },
    }


def _origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, the rest cut (shown as `/...`)."""
    scheme, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    return f"{scheme}://{authority}/..." if authority != rest else url


def _no_mailbox(mailbox: str, user_shown: str) -> ApiError:
    """404 for a mailbox that is missing; 400 naming the problem for a name no mailbox can have
    (elektromail.names' rule, as IMAP answers NO [CANNOT]), so `?mailbox=&AOk-` says to give
    `é`. Checked only once the name is found missing: older mailboxes stay reachable."""
    try:
        check_mailbox_name(mailbox)
    except InvalidInput as e:
        return bad_request(f"parameter 'mailbox': {e}")
    return not_found(f"no mailbox {mailbox!r} for user {user_shown!r}")
