"""A small blocking client for the control API over a real socket (http.client), for tests."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any

from elektromail.testing import MailServer
from tests.http.openapi_check import DOCUMENT, check_response, template_for


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def json(self) -> Any:
        assert self.content_type.startswith("application/json"), (self.status, self.body[:200])
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The message of a JSON error answer (and proof that it is one)."""
        data = self.json()
        assert set(data) == {"error"} and isinstance(data["error"], str), data
        return data["error"]


class Api:
    """`api.get("/messages")`, `api.post("/inject", {...})`; a token, when given, is sent as
    `Authorization: Bearer`."""

    def __init__(self, mail: MailServer, token: str | None = None) -> None:
        self.mail = mail
        self.token = token

    def connect(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.mail.host, self.mail.http_port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
        timeout: float = 10,
        check: bool = True,
    ) -> Response:
        """Send `body` as JSON, or `data` as it is. The answer is checked against the OpenAPI
        document when that describes the route (`check=False`: an answer it cannot know)."""
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=data, headers=sent)
            answer = conn.getresponse()
            response = Response(answer.status, answer.headers, answer.read())
        finally:
            conn.close()
        if check and documented(method, path):
            check_response(method, path, response.status, response.headers, response.body)
        return response

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Response:
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)

    def inject(self, raw: str, user: str = "user", **fields: Any) -> int:
        answer = self.post("/inject", {"user": user, "raw": raw, **fields})
        assert answer.status == 201, answer.body
        return answer.json()["uid"]


def documented(method: str, path: str) -> bool:
    """Whether the OpenAPI document describes `method path` (then every answer to it is
    checked against the document; unknown routes and methods are not there to check)."""
    try:
        template = template_for(path.split("?", 1)[0])
    except AssertionError:
        return False
    return method.lower() in DOCUMENT["paths"][template]
