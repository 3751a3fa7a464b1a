"""GET /metrics: the server's counters in the Prometheus text format (OpenMetrics when the
scraper asks for it), with the store's size asked at each scrape; and its OpenAPI path.

Behind ELEKTROMAIL_HTTP_TOKEN like the rest of the API, not open like /healthz: the numbers are
every namespace's traffic, and Prometheus sends a bearer token by itself (`authorization:` in
a scrape config), where the probes /healthz serves (Docker's HEALTHCHECK, a load balancer)
often cannot. A namespace's token is refused (403): the metrics are the whole server's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.logger import Logger

from elektromail.http.jsonio import ApiError, bad_request
from elektromail.metrics import WebhookTotals, exposition
from elektromail.store.errors import StoreUnavailable

if TYPE_CHECKING:
    from elektromail.http.app import ControlAPI

log = Logger()

# prometheus_client's own handler takes `?name[]=` to pick families; so does this route.
NAME_PARAMETER = b"name[]"
MAX_NAMES = 100
MAX_NAME_LENGTH = 200


def add_metrics_routes(api: ControlAPI) -> None:
    """Route GET /metrics on `api` (ControlAPI._add_routes calls this)."""
    api._add("/metrics", "GET", MetricsRoute(api).get)


class MetricsRoute:
    def __init__(self, api: ControlAPI) -> None:
        self.api = api

    async def get(self, request) -> bytes:
        if self.api.authority(request).scoped:  # the token was checked by ControlAPI._add
            raise ApiError(403, "/metrics needs the server's token, not a namespace's")
        if b"namespace" in request.args:
            raise bad_request("parameter 'namespace': /metrics is server-wide, not per namespace")
        names = _names(request)
        postoffice = self.api.postoffice
        try:
            store = await postoffice.store_size()
        except StoreUnavailable as e:  # the counters matter most when things fail: still serve
            log.warn("GET /metrics without the store's size: {why}", why=e)
            postoffice.metrics.error("store_unavailable")
            store = None
        accept = request.getHeader(b"accept")
        body, content_type = exposition(
            postoffice.metrics,
            store,
            accept.decode("latin-1") if isinstance(accept, bytes) else accept,
            names,
            webhook_totals(getattr(self.api, "webhooks", None)),
        )
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-store")
        return body


def webhook_totals(webhooks) -> WebhookTotals:
    """Every webhook URL's counts (http/webhooks.Webhooks.status), added up: no URL is a label,
    as one may carry its secret in its path."""
    if webhooks is None:
        return WebhookTotals()
    status = webhooks.status()
    targets = status["webhooks"]
    return WebhookTotals(
        sent=sum(t["sent"] for t in targets),
        failed=sum(t["failed"] for t in targets),
        dropped=sum(t["dropped"] for t in targets),
        skipped=status["skipped"],
        retries=sum(t["retries"] for t in targets),
        waiting=sum(t["queued"] + bool(t["in_flight"]) for t in targets),
    )


def _names(request) -> list[str]:
    values = request.args.get(NAME_PARAMETER, [])
    if len(values) > MAX_NAMES:
        raise bad_request(f"parameter 'name[]': at most {MAX_NAMES} names")
    names = []
    for value in values:
        try:
            name = value.decode("ascii")
        except UnicodeDecodeError:
            raise bad_request("parameter 'name[]': a metric name is ASCII") from None
        if not name or len(name) > MAX_NAME_LENGTH:
            raise bad_request(f"parameter 'name[]': 1 to {MAX_NAME_LENGTH} characters")
        names.append(name)
    return names


def openapi_paths() -> dict[str, Any]:
    """The route's entry, for openapi._paths."""
    from elektromail.http.openapi import _op, _query

    text = {"schema": {"type": "string"}}
    return {
        "/metrics": {
            "get": _op(
                "server",
                "Counters, histograms and the store's size, for Prometheus",
                (
                    "200",
                    {
                        "description": "The Prometheus text format (version 0.0.4 and up); "
                        "OpenMetrics when `Accept` asks for application/openmetrics-text.",
                        "content": {
                            "text/plain": text,
                            "application/openmetrics-text": text,
                        },
                    },
                ),
                ("BadRequest", "Unauthorized", "Forbidden", "NotFound"),
                operationId="metrics",
                description="Messages received, stored, refused and bounced; sessions and "
                "commands by protocol with their latency; SMTP transaction latency; errors by "
                "kind; webhook deliveries; the store's size. Server-wide: no `?namespace=`, "
                "and a namespace's token is a 403. Counters count from the start of the process: "
                "POST /reset "
                "does not set them back (the store gauges follow it).",
                parameters=[
                    _query(
                        "name[]",
                        {
                            "type": "array",
                            "items": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_NAME_LENGTH,
                            },
                            "maxItems": MAX_NAMES,
                        },
                        "Only these families (a family or sample name, e.g. "
                        "`elektromail_commands_total`), as prometheus_client's handler takes it.",
                    )
                ],
            )
        },
    }
