"""The README's example receiver, run as written (on a free port): it accepts what the
server signs with its secret, and a server with another secret gets 401s, not retried."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from elektromail.testing import MailServer
from tests.http.client import Api

README = Path(__file__).resolve().parents[2] / "README.md"


def receiver_example() -> str:
    text = README.read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, re.DOTALL):
        if "X-Elektromail-Signature" in block:
            return block
    raise AssertionError("no webhook receiver example in the README")


@pytest.fixture
def example_server():
    code = receiver_example()
    last = 'HTTPServer(("127.0.0.1", 9000), Hook).serve_forever()'
    assert code.strip().endswith(last)
    namespace: dict = {}
    exec(code.replace(last, 'server = HTTPServer(("127.0.0.1", 0), Hook)'), namespace)
    server = namespace["server"]
    server.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _delivered(mail: MailServer) -> dict:
    api = Api(mail)
    api.inject("Subject: from the README\r\n\r\nx\r\n")
    mail.call(mail.server.webhooks.settled)  # the read, the POST and its answer are done
    (target,) = api.get("/webhooks").json()["webhooks"]
    return target


def test_the_readme_receiver_accepts_a_signed_delivery(example_server, capsys):
    with MailServer(http_port=0, webhook_urls=example_server, webhook_secret="change-me") as mail:
        target = _delivered(mail)
    assert (target["last_status"], target["failed"]) == (204, 0)
    assert "inject user INBOX from the README" in capsys.readouterr().out


def test_the_readme_receiver_refuses_another_secret_and_that_401_is_not_retried(example_server):
    with MailServer(http_port=0, webhook_urls=example_server, webhook_secret="wrong") as mail:
        target = _delivered(mail)
    assert (target["last_status"], target["retries"], target["sent"]) == (401, 0, 0)
