"""A namespace of its own on a running elektromail, driven over its HTTP API with the standard
library: what `elektromail.testing.MailServer` offers, for test jobs that share one server.

    with RemoteMailServer("http://mail.ci:8025", token=os.environ.get("TOKEN")) as mail:
        send_signup_mail(to=mail.address("bob"), smtp=(mail.host, mail.smtp_port))
        [message] = mail.wait_for_messages(1, user="bob")

`start()` makes a namespace (POST /namespaces, with the server's token when it has one) and
every later call works in it with the namespace's own token; `stop()` drops it. Mail reaches
the namespace addressed to `address(local)` (`local@<ns>.<suffix>`), or from an SMTP client
logged in as `imap_login(user)` with `password`; IMAP logs in the same way.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from elektromail.names import INBOX

DEFAULT_TIMEOUT = 10.0
MAX_WAIT = 60.0  # seconds one long-poll may ask for (the server's limit)


class RemoteError(Exception):
    """The server answered an HTTP error; `status`, the server's `error` text, and `details`:
    the whole JSON answer (a failed release's `upstream` reply and `recipients` are there)."""

    def __init__(
        self, status: int, error: str, method: str, path: str, details: dict | None = None
    ) -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {error}")
        self.status = status
        self.error = error
        self.details = details if details is not None else {"error": error}


class RemoteMailServer:
    """One namespace on the elektromail whose HTTP API is at `url`; `token` is the server's
    bearer token (ELEKTROMAIL_HTTP_TOKEN) if it has one, `name` a namespace name to ask for
    (default: a random one)."""

    def __init__(self, url: str, token: str | None = None, name: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.server_token = token
        self.requested_name = name
        self.namespace: str | None = None  # its name, while started
        self.token: str | None = None  # the namespace's token, while started
        self.domain: str | None = None
        self._config: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<RemoteMailServer {self.url} namespace={self.namespace}>"

    # --- life cycle ---

    def start(self) -> RemoteMailServer:
        """Make the namespace; returns self. RemoteError when the server refuses."""
        if self.namespace is None:
            body = {"name": self.requested_name} if self.requested_name else None
            made = self._call("POST", "/namespaces", body, token=self.server_token)
            self.namespace, self.token, self.domain = made["name"], made["token"], made["domain"]
            self._config = self._call("GET", "/config")
        return self

    def stop(self) -> None:
        """Drop the namespace with its users and mail (nothing when it is gone already)."""
        namespace, self.namespace = self.namespace, None
        if namespace is not None:
            try:
                self._call("DELETE", f"/namespaces/{namespace}", token=self.token)
            except RemoteError as e:
                if e.status not in (401, 404):  # expired meanwhile
                    raise
            self.token = None

    def __enter__(self) -> RemoteMailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- where it listens, and the names of the namespace ---

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def smtp_port(self) -> int | None:
        return self._config.get("smtp_port")

    @property
    def imap_port(self) -> int | None:
        return self._config.get("imap_port")

    @property
    def pop3_port(self) -> int | None:
        return self._config.get("pop3_port")

    @property
    def pop3s_port(self) -> int | None:
        return self._config.get("pop3s_port")

    @property
    def http_port(self) -> int | None:
        return urllib.parse.urlsplit(self.url).port

    @property
    def http_url(self) -> str:
        return self.url

    @property
    def password(self) -> str | None:
        """What the namespace's users log in with over IMAP and SMTP AUTH: its token."""
        return self.token

    def address(self, local: str) -> str:
        """An address whose mail reaches user `local` of this namespace."""
        return f"{local}@{self._started(self.domain)}"

    def imap_login(self, user: str) -> str:
        """The IMAP (and SMTP AUTH) login of user `user` of this namespace: `user@<ns>`."""
        return f"{user}@{self._started(self.namespace)}"

    # --- reading mail ---

    def messages(self, user: str | None = None, mailbox: str | None = INBOX) -> list[dict]:
        """As MailServer.messages: the namespace's messages as /messages lists them (user
        names without the namespace), oldest first, each with `raw`."""
        listed = self._call("GET", "/messages" + _query(user=user, mailbox=mailbox))
        return self._with_raw(listed["messages"])

    def wait_for_messages(
        self,
        count: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        user: str | None = None,
        mailbox: str | None = INBOX,
    ) -> list[dict]:
        """Wait until at least `count` messages are there (the server's long-poll: no polling)
        and return them as `messages()` does; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            wait = max(0.0, min(MAX_WAIT, deadline - time.monotonic()))
            path = "/messages" + _query(user=user, mailbox=mailbox, wait=f"{wait:.3f}", count=count)
            listed = self._call("GET", path, timeout=wait + DEFAULT_TIMEOUT)
            found = listed["messages"]
            if len(found) >= count:
                return self._with_raw(found)
            if time.monotonic() >= deadline:
                where = f"{user or 'any user'}/{mailbox or 'any mailbox'}"
                raise TimeoutError(
                    f"waited {timeout:g} s for {count} message(s) in {where} of namespace "
                    f"{self.namespace}; {len(found)} arrived: {[m['subject'] for m in found]}"
                )

    def cursor(self) -> int:
        """The arrival cursor of this moment (as MailServer.cursor): take it before the action
        whose mail you then `wait_for(..., after=cursor)`."""
        return self._call("GET", "/messages?limit=1")["cursor"]

    def wait_for(
        self,
        q: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        after: int | None = None,
        *,
        user: str | None = None,
        mailbox: str | None = None,
        code_pattern: str | None = None,
        mailto: bool = False,
    ):
        """As MailServer.wait_for, over GET /messages/wait (long-polled; a wait longer than
        the server's limit asks again after the same cursor): an elektromail.foundmail.Message
        with `.links`, `.code`, `.attachments` (their bytes fetched), `.checks()`. Raises
        TimeoutError, and ValueError for a query or pattern the server refuses."""
        from elektromail.foundmail import Message

        deadline = time.monotonic() + timeout
        while True:
            wait = max(0.0, min(MAX_WAIT, deadline - time.monotonic()))
            path = "/messages/wait" + _query(
                q=q or None,
                after=after,
                timeout=f"{wait:.3f}",
                user=user,
                mailbox=mailbox,
                code_pattern=code_pattern,
                mailto="true" if mailto else None,
            )
            try:
                answer = self._call("GET", path, timeout=wait + DEFAULT_TIMEOUT)
            except RemoteError as e:
                if e.status == 400:
                    raise ValueError(e.error) from None
                raise
            found = answer["message"]
            if found is not None:
                break
            if time.monotonic() >= deadline:
                since = "" if after is None else f" after cursor {after}"
                raise TimeoutError(
                    f"waited {timeout:g} s for a message matching {q!r}{since} in namespace "
                    f"{self.namespace}"
                )
        raw = self._call("GET", _path_of(found["raw_url"]), raw=True)
        contents = {
            item["index"]: self._call("GET", _path_of(item["url"]), raw=True)
            for item in found["attachments"]
        }
        return Message.from_json(found, raw, answer["cursor"], contents, server=self)

    def checks(
        self, uid: int, user: str | None = None, mailbox: str = INBOX, links: bool = False
    ) -> dict:
        """As MailServer.checks, over GET /messages/{uid}/checks."""
        path = f"/messages/{uid}/checks" + _query(
            user=user, mailbox=mailbox, links="true" if links else None
        )
        return self._call("GET", path, timeout=DEFAULT_TIMEOUT + (60.0 if links else 0.0))

    def release(
        self,
        uid: int,
        to: Iterable[str] | None = None,
        user: str | None = None,
        mailbox: str = INBOX,
        sender: str | None = None,
    ) -> dict:
        """As MailServer.release, over POST /messages/{uid}/release with the server's relay;
        a failure is a RemoteError whose `details` hold the upstream's reply."""
        body: dict[str, Any] = {}
        if to is not None:
            body["to"] = list(to)
        if sender is not None:
            body["from"] = sender
        path = f"/messages/{uid}/release" + _query(user=user, mailbox=mailbox)
        # The server gives up after --relay-timeout (30 s by default); wait a little longer.
        return self._call("POST", path, body, timeout=DEFAULT_TIMEOUT + 60.0)

    def add_dkim_key(self, selector: str, domain: str, key: str) -> None:
        """As MailServer.add_dkim_key, over PUT /dkim/keys (`key`: the TXT record's value or a
        PEM public key). The keys are the server's, shared by every namespace on it."""
        field = "public_key" if key.lstrip().startswith("-----BEGIN") else "record"
        try:
            self._call("PUT", "/dkim/keys", {"selector": selector, "domain": domain, field: key})
        except RemoteError as e:
            if e.status == 400:
                raise ValueError(e.error) from None
            raise

    def dkim_keys(self) -> list[dict]:
        """The DKIM keys in force, as GET /dkim/keys lists them."""
        return self._call("GET", "/dkim/keys")

    def delete_dkim_keys(self, selector: str | None = None, domain: str | None = None) -> int:
        """As MailServer.delete_dkim_keys, over DELETE /dkim/keys: how many went."""
        answer = self._call("DELETE", "/dkim/keys" + _query(selector=selector, domain=domain))
        return answer.get("deleted", 0) if isinstance(answer, dict) else 0

    def _with_raw(self, items: list[dict]) -> list[dict]:
        out = []
        for item in items:
            path = f"/messages/{item['uid']}/raw" + _query(
                user=item["user"], mailbox=item["mailbox"]
            )
            try:
                raw = self._call("GET", path, raw=True)
            except RemoteError as e:
                if e.status == 404:  # expunged since it was listed
                    continue
                raise
            out.append({**item, "raw": raw})
        return out

    # --- changing state ---

    def inject(
        self,
        user: str,
        raw: bytes | str,
        mailbox: str = INBOX,
        flags: Iterable[str] = (),
        internal_date: datetime.datetime | float | None = None,
    ) -> int:
        """As MailServer.inject (the user must exist: `add_user` first, or deliver to them):
        returns the UID. A mailbox name the one rule refuses is the server's 400, a
        RemoteError naming the problem."""
        body: dict[str, Any] = {"user": user, "mailbox": mailbox, "flags": list(flags)}
        if isinstance(raw, str):
            body["raw"] = raw
        else:
            body["raw_base64"] = base64.b64encode(raw).decode("ascii")
        if internal_date is not None:
            if not isinstance(internal_date, datetime.datetime):
                internal_date = datetime.datetime.fromtimestamp(internal_date, datetime.UTC)
            elif internal_date.tzinfo is None:
                internal_date = internal_date.astimezone()
            body["internal_date"] = internal_date.isoformat()
        return self._call("POST", "/inject", body)["uid"]

    def add_user(self, name: str, password: str, email: str | None = None) -> None:
        """A user of the namespace who logs in as `imap_login(name)` with `password`."""
        body = {"user": name, "password": password}
        if email is not None:
            body["email"] = email
        self._call("POST", "/users", body)

    def delete_user(self, name: str) -> None:
        self._call("DELETE", f"/users/{urllib.parse.quote(name, safe='')}")

    def oauth_token(
        self,
        user: str,
        scope: str | None = None,
        expires_in: float | None = None,
        token: str | None = None,
    ) -> str:
        """An OAuth2 access token for the namespace's `user` (who signs in as
        `imap_login(user)`), as MailServer.oauth_token: POST /oauth/tokens."""
        body: dict[str, Any] = {"user": user}
        if scope is not None:
            body["scope"] = scope
        if expires_in is not None:
            body["expires_in"] = expires_in
        if token is not None:
            body["token"] = token
        return self._call("POST", "/oauth/tokens", body)["token"]

    def purge(self) -> None:
        """Delete the namespace's messages; its users and mailboxes stay."""
        self._call("POST", "/purge")

    def reset(self) -> None:
        """Empty the namespace: no users, no mail, no rules."""
        self._call("POST", "/reset")

    def set_rules(self, rules: object, seed: int | None = None) -> None:
        """Put delivery rules in force in the namespace: a list of rule dicts, JSON text, or
        the path of a JSON file. `seed` is the server's (ELEKTROMAIL_RULES_SEED) remotely."""
        if isinstance(rules, os.PathLike) or (
            isinstance(rules, str) and not rules.lstrip().startswith("[")
        ):
            with open(os.fspath(rules), encoding="utf-8") as f:
                rules = f.read()
        if isinstance(rules, str):
            rules = json.loads(rules)
        self._call("PUT", "/rules", rules)

    # --- HTTP ---

    def _started(self, value: str | None) -> str:
        if value is None:
            raise RuntimeError("the RemoteMailServer has no namespace: call start() first")
        return value

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Any:
        if token is None:
            token = self.token
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                content = answer.read()
        except urllib.error.HTTPError as e:
            text = e.read()
            details = None
            try:
                details = json.loads(text)
                error = details["error"]
            except (ValueError, KeyError, TypeError):
                details, error = None, text.decode("utf-8", "replace")[:200]
            raise RemoteError(e.code, error, method, path, details) from None
        return content if raw else json.loads(content)


def _path_of(url: str) -> str:
    """The path and query of a URL the server gave (it answers them relative to its root)."""
    parts = urllib.parse.urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _query(**params: Any) -> str:
    given = {name: value for name, value in params.items() if value is not None}
    return "?" + urllib.parse.urlencode(given) if given else ""
