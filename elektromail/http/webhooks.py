"""Webhooks: a JSON POST to each --webhook-url per message delivered, fed by the post office's
event hub (as the web inbox's live updates are), so SMTP, bounces, /inject and IMAP APPEND
are all covered and no protocol knows of webhooks. GET /webhooks shows each URL's counts.

A delivery is every MessageAdded but copies (IMAP COPY and MOVE: the same mail, announced
when it came in). Preloaded fixtures are the start state, stored without events: not sent."""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from elektromail.config import Settings
from elektromail.events import COPIED, Event, MessageAdded
from elektromail.http import render
from elektromail.http.jsonio import ApiError, json_bytes
from elektromail.http.webhook_sender import AgentPoster, Payload, Poster, WebhookTarget

log = Logger()

EVENT = "delivered"  # the payload's `event` and X-Elektromail-Event, as GET /events names it


class Webhooks:
    """The targets of --webhook-url and the event subscriber that feeds them. `clock` (the
    reactor unless a test gives a Clock) times attempts and retries; `post` sends one
    request (an AgentPoster on `reactor` unless given)."""

    def __init__(
        self,
        postoffice,
        settings: Settings,
        reactor=None,
        *,
        clock=None,
        post: Poster | None = None,
        tls_policy=None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor
        self.postoffice = postoffice
        self.settings = settings
        self.poster = AgentPoster(reactor, tls_policy) if post is None else None
        send = post if post is not None else self.poster
        clock = reactor if clock is None else clock
        agent = f"elektromail/{_version()}"
        self.targets = [
            WebhookTarget(
                url,
                send,
                clock,
                timeout=settings.webhook_timeout,
                queue_size=settings.webhook_queue,
                secret=settings.webhook_secret,
                user_agent=agent,
            )
            for url in settings.webhook_urls
        ]
        self.skipped = 0  # deliveries gone (or unreadable) before their summary was read
        self._reading = 0
        self._reads: set[defer.Deferred] = set()
        self._unsubscribe = None

    def start(self) -> None:
        if self.targets and self._unsubscribe is None:
            self._unsubscribe = self.postoffice.events.subscribe(self._on_event)

    async def stop(self) -> None:
        """Stop at once: no new work, the attempts in flight cancelled, what waits dropped
        (and counted, with one log line)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for d in list(self._reads):
            d.cancel()
        pending = sum(target.stop() for target in self.targets)
        if pending:
            log.warn("webhooks: {count} deliveries not sent at shutdown", count=pending)
        if self.poster is not None:
            await self.poster.close()

    def status(self) -> dict[str, Any]:
        s = self.settings
        return {
            "webhooks": [target.status() for target in self.targets],
            "signed": s.webhook_secret is not None,
            "timeout": s.webhook_timeout,
            "queue_size": s.webhook_queue,
            "skipped": self.skipped,
        }

    # --- the feed ------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Called as each message is stored: starts the read of its summary and returns."""
        if not isinstance(event, MessageAdded) or event.source in COPIED:
            return
        if event.remote:  # stored by another process on the database: it sends the webhook
            return
        if self._reading >= self.settings.webhook_queue:  # a burst outruns the store: drop
            for target in self.targets:
                target.count_drop()
            return
        self._reading += 1
        d = defer.Deferred.fromCoroutine(self._read(event))
        self._reads.add(d)
        d.addErrback(self._read_failed)
        d.addBoth(self._read_done, d)

    async def _read(self, event: MessageAdded) -> None:
        summary = await self.postoffice.get_message(event.user, event.mailbox, event.uid, raw=False)
        if summary is None:  # expunged before it was read
            self.skipped += 1
            return
        payload = self.payload(event, summary)
        for target in self.targets:
            target.enqueue(payload)

    def payload(self, event: MessageAdded, summary) -> Payload:
        """The POST for one delivery: the message as GET /messages lists it (in its namespace's
        view, as GET /messages?namespace= shows it), and where it went."""
        namespace = self.postoffice.namespace_of_user(event.user)
        user = self.postoffice.unqualify(event.user, namespace)
        message = dict(render.list_item(summary), user=user)
        body = {
            "id": uuid.uuid4().hex,
            "event": EVENT,
            "source": event.source or None,
            "user": user,
            "mailbox": event.mailbox,
            "namespace": namespace,
            "message": message,
        }
        return Payload(body["id"], EVENT, json_bytes(body))

    def _read_failed(self, failure) -> None:
        if failure.check(defer.CancelledError):
            return
        self.skipped += 1
        log.failure("webhooks: cannot read a delivered message", failure)

    def _read_done(self, _result, d: defer.Deferred) -> None:
        self._reading -= 1
        self._reads.discard(d)

    async def settled(self) -> None:
        """Returns when every read is done and no request is in flight: what is left waits
        for a retry or for nothing (for tests)."""
        while True:
            if self._reads:
                await defer.DeferredList(list(self._reads), consumeErrors=True)
                continue
            busy = [target.settled() for target in self.targets if target.busy]
            if not busy:
                return
            await defer.DeferredList(busy, consumeErrors=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("elektromail")
    except metadata.PackageNotFoundError:
        return "0+unknown"


# --- GET /webhooks -----------------------------------------------------------------------------


def add_webhooks_routes(api) -> None:
    """Route GET /webhooks on `api` (a ControlAPI; its `webhooks` is None without URLs)."""

    async def status(request) -> dict[str, Any]:
        if api.authority(request).scoped:
            raise ApiError(403, "the webhooks' status needs the server's token, not a namespace's")
        webhooks = getattr(api, "webhooks", None)
        if webhooks is None:
            s = api.settings
            return {
                "webhooks": [],
                "signed": s.webhook_secret is not None,
                "timeout": s.webhook_timeout,
                "queue_size": s.webhook_queue,
                "skipped": 0,
            }
        return webhooks.status()

    api._add("/webhooks", "GET", status)


def openapi_paths() -> dict[str, Any]:
    from elektromail.http.openapi import _op
    from elektromail.http.openapi_schemas import json_body as body
    from elektromail.http.openapi_schemas import ref

    return {
        "/webhooks": {
            "get": _op(
                "server",
                "Each --webhook-url with what was sent, failed, retried and dropped",
                ("200", body(ref("schemas", "WebhookStatus"), "The webhooks' counts.")),
                ("Unauthorized", "Forbidden"),
                operationId="getWebhooks",
                description="One JSON POST per delivered message (SMTP, bounces, /inject, "
                "IMAP APPEND; not COPY or MOVE) goes to each URL, one at a time, retried "
                "with backoff on connection errors, timeouts, 5xx, 408 and 429. A full queue "
                "drops its oldest delivery, counted in `dropped`. Needs the server's token "
                "(a namespace's: 403). Counts start at zero with the process.",
            )
        }
    }


def openapi_webhooks() -> dict[str, Any]:
    """The document's `webhooks` (OpenAPI 3.1): the POST this server makes per delivery."""
    from elektromail.http.openapi_schemas import json_body as body
    from elektromail.http.openapi_schemas import ref

    return {
        EVENT: {
            "post": {
                "summary": "A message was delivered (to each --webhook-url)",
                "operationId": "webhookDelivered",
                "description": "Headers: X-Elektromail-Event, X-Elektromail-Delivery and, with "
                "--webhook-secret, X-Elektromail-Signature: `sha256=` and the hex HMAC-SHA256 "
                "of the exact body keyed with the secret. Answer 2xx; a 5xx, 408, 429, a "
                "timeout or a connection error is retried, any other answer is not.",
                "requestBody": {
                    "required": True,
                    **body(ref("schemas", "WebhookDelivery"), "The delivery."),
                },
                "responses": {"2XX": {"description": "Received."}},
            }
        }
    }


def openapi_schemas() -> dict[str, Any]:
    from elektromail.http.openapi_schemas import nullable, obj, ref

    count = {"type": "integer", "minimum": 0}
    when = nullable({"type": "string", "format": "date-time"})
    target = {
        "url": {"type": "string"},
        "queued": {**count, "description": "Deliveries waiting to be sent."},
        "in_flight": {
            "type": "boolean",
            "description": "A delivery is being sent or waits for its retry.",
        },
        "sent": {**count, "description": "Answered with 2xx."},
        "failed": {
            **count,
            "description": "Given up on: a 4xx (but 408 and 429), or every attempt failed.",
        },
        "dropped": {
            **count,
            "description": "Pushed out of a full queue (the oldest goes first).",
        },
        "retries": {**count, "description": "Attempts after the first."},
        "last_status": nullable({"type": "integer", "description": "The last HTTP status."}),
        "last_error": nullable({"type": "string", "description": "What went wrong last."}),
        "last_success": when,
        "last_failure": when,
    }
    delivery = {
        "id": {
            "type": "string",
            "description": "This delivery's id, also in X-Elektromail-Delivery: the same on "
            "every retry of it.",
        },
        "event": {"type": "string", "enum": [EVENT]},
        "source": {"type": ["string", "null"], "enum": ["smtp", "dsn", "inject", "append", None]},
        "user": {"type": "string", "description": "As its namespace's view shows it."},
        "mailbox": {"type": "string"},
        "namespace": nullable({"type": "string", "description": "null: the default one."}),
        "message": ref("schemas", "MessageSummary"),
    }
    return {
        "WebhookDelivery": obj(
            delivery,
            tuple(delivery),
            description="The JSON body POSTed to each --webhook-url per delivered message; "
            "`message` is the item GET /messages lists.",
        ),
        "WebhookTarget": obj(target, tuple(target)),
        "WebhookStatus": obj(
            {
                "webhooks": {"type": "array", "items": ref("schemas", "WebhookTarget")},
                "signed": {
                    "type": "boolean",
                    "description": "--webhook-secret is set (the secret is never shown).",
                },
                "timeout": {**count, "description": "--webhook-timeout, seconds."},
                "queue_size": {**count, "description": "--webhook-queue."},
                "skipped": {
                    **count,
                    "description": "Deliveries expunged before their summary could be read.",
                },
            },
            ("webhooks", "signed", "timeout", "queue_size", "skipped"),
        ),
    }
