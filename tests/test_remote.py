"""RemoteMailServer: a namespace of a running server, driven over HTTP, with MailServer's API;
and the pytest plugin's remote mode (--mail-server-url), through pytester."""

from __future__ import annotations

import imaplib
import inspect
import re
import smtplib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from elektromail.remote import RemoteError, RemoteMailServer
from elektromail.testing import MailServer

pytest_plugins = ["pytester"]

TOKEN = "server-secret"


@pytest.fixture(scope="module", params=["no-token", "token"])
def shared(request) -> Iterator[tuple[MailServer, str | None]]:
    token = TOKEN if request.param == "token" else None
    with MailServer(http_port=0, http_token=token) as server:
        yield server, token


@pytest.fixture
def remote(shared) -> Iterator[RemoteMailServer]:
    server, token = shared
    with RemoteMailServer(server.http_url, token=token) as mail:
        yield mail


def send(mail, to: str, subject: str) -> None:
    with smtplib.SMTP(mail.host, mail.smtp_port, timeout=10) as smtp:
        smtp.sendmail("app@example.com", [to], f"Subject: {subject}\r\n\r\nhi\r\n".encode())


def test_it_offers_every_public_method_and_property_of_mail_server():
    def public(cls) -> set[str]:
        return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}

    missing = public(MailServer) - public(RemoteMailServer) - {"call", "server", "settings"}
    assert missing == set()


def test_mail_to_its_address_is_listed_waited_for_and_read_raw(remote):
    assert remote.namespace and remote.address("bob") == f"bob@{remote.namespace}.ns.localhost"
    assert remote.imap_login("bob") == f"bob@{remote.namespace}"
    send(remote, remote.address("bob"), "hello")
    [message] = remote.wait_for_messages(1, user="bob")
    assert message["user"] == "bob" and message["subject"] == "hello"
    assert message["raw"].endswith(b"\r\n\r\nhi\r\n")
    assert [m["subject"] for m in remote.messages()] == ["hello"]


def test_a_wait_that_runs_out_says_what_arrived(remote):
    send(remote, remote.address("bob"), "only one")
    with pytest.raises(TimeoutError, match="only one"):
        remote.wait_for_messages(2, timeout=0.5)


SIGNUP = (
    "Subject: Welcome to Acme\r\nContent-Type: text/html\r\n\r\n"
    '<p>Your code is 493817.</p><a href="https://acme.test/verify?token=abc123">Confirm</a>\r\n'
)


def test_wait_for_finds_the_mail_after_the_cursor_with_its_link_and_code(remote):
    # issue 17: the remote client answers as MailServer.wait_for does, over /messages/wait
    send(remote, remote.address("bob"), "before the cursor")
    cursor = remote.cursor()
    with smtplib.SMTP(remote.host, remote.smtp_port, timeout=10) as smtp:
        raw = f"To: {remote.address('bob')}\r\n{SIGNUP}"
        smtp.sendmail("app@example.com", [remote.address("bob")], raw.encode())
    found = remote.wait_for("to:bob subject:Welcome", after=cursor, timeout=10)
    assert found.subject == "Welcome to Acme" and found.user == "bob"
    assert found.code == "493817"
    assert found.link == "https://acme.test/verify?token=abc123"
    assert found.raw.startswith(b"To: bob@")
    assert found.cursor > cursor
    with pytest.raises(TimeoutError):
        remote.wait_for("subject:Welcome", after=found.cursor, timeout=0.3)
    with pytest.raises(ValueError, match="q"):
        remote.wait_for('subject:"unbalanced', timeout=0.3)
    checks = found.checks()
    assert {c["check"] for c in checks["checks"]} >= {"headers", "dkim", "html"}


def test_another_namespace_never_sees_the_mail_it_waits_for(shared, remote):
    server, token = shared
    with RemoteMailServer(server.http_url, token=token) as other:
        cursor = other.cursor()
        send(remote, remote.address("bob"), "Welcome")
        assert remote.wait_for("subject:Welcome", timeout=10).user == "bob"
        with pytest.raises(TimeoutError):
            other.wait_for("subject:Welcome", after=cursor, timeout=0.3)


def test_dkim_keys_over_the_api(remote):
    remote.delete_dkim_keys()
    with pytest.raises(ValueError):
        remote.add_dkim_key("sel", "example.com", "not a key")
    assert remote.dkim_keys() == []


def test_users_inject_purge_reset(remote):
    remote.add_user("carol", "pw", email="carol@example.org")
    uid = remote.inject("carol", "Subject: injected\n\nbody\n", flags=["\\Seen"], internal_date=0)
    [message] = remote.messages(user="carol")
    assert message["uid"] == uid and message["raw"] == b"Subject: injected\r\n\r\nbody\r\n"
    imap = imaplib.IMAP4(remote.host, remote.imap_port)
    assert imap.login(remote.imap_login("carol"), "pw")[0] == "OK"
    imap.logout()
    imap = imaplib.IMAP4(remote.host, remote.imap_port)
    assert imap.login(remote.imap_login("dave"), remote.password)[0] == "OK"
    imap.logout()
    remote.purge()
    assert remote.messages(user="carol") == []
    remote.delete_user("carol")
    with pytest.raises(RemoteError) as raised:
        remote.inject("carol", "Subject: x\n\n")
    assert raised.value.status == 404
    send(remote, remote.address("erin"), "before reset")
    remote.reset()
    assert remote.messages(mailbox=None) == []


def test_mail_that_is_not_utf8_and_mailbox_names_as_the_server_takes_them(remote):
    """The remote client's `raw` is the exact bytes (from /messages/{uid}/raw), 8-bit or not;
    a mailbox name the one rule refuses is the server's 400, named."""
    remote.add_user("fay", "pw")
    raw = b"Subject: K\xe4se\r\n\r\n\xff\xfe \xe2\x82\r\n"
    remote.inject("fay", raw, mailbox="Entwürfe")
    [message] = remote.messages(user="fay", mailbox="Entwürfe")
    assert message["raw"] == raw
    for bad, problem in (("..", "'..' level"), ("Entw&APw-rfe", "UTF-8 text: 'Entwürfe'")):
        with pytest.raises(RemoteError) as raised:
            remote.inject("fay", raw, mailbox=bad)
        assert raised.value.status == 400 and problem in str(raised.value)
    remote.delete_user("fay")


def test_rules_apply_in_its_namespace_only(shared, remote):
    server, token = shared
    remote.set_rules([{"recipient": "*", "action": "reject"}])
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(remote, remote.address("bob"), "refused")
    with RemoteMailServer(server.http_url, token=token) as other:
        send(other, other.address("bob"), "accepted")
        assert len(other.wait_for_messages(1)) == 1
    remote.set_rules("[]")
    send(remote, remote.address("bob"), "accepted now")


def test_two_workers_in_parallel_see_only_their_own_mail(shared):
    server, token = shared
    seen: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with RemoteMailServer(server.http_url, token=token) as mail:
                for i in range(5):
                    send(mail, mail.address("bob"), f"{name}-{i}")
                found = mail.wait_for_messages(5, user="bob")
                seen[name] = sorted(m["subject"] for m in found)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("gw0", "gw1")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert seen == {name: [f"{name}-{i}" for i in range(5)] for name in ("gw0", "gw1")}


def test_stop_drops_the_namespace_and_its_token(shared):
    server, token = shared
    mail = RemoteMailServer(server.http_url, token=token, name="dropped").start()
    scoped = mail.token
    mail.stop()
    mail.stop()  # twice is fine
    probe = RemoteMailServer(server.http_url)
    with pytest.raises(RemoteError) as raised:
        probe._call("GET", "/messages", token=scoped)
    assert raised.value.status == 401


def test_a_wrong_server_token_is_reported():
    with MailServer(http_port=0, http_token=TOKEN) as server:
        with pytest.raises(RemoteError) as raised:
            RemoteMailServer(server.http_url, token="wrong").start()
        assert raised.value.status == 401


def test_calls_before_start_say_so():
    with pytest.raises(RuntimeError, match="start"):
        RemoteMailServer("http://127.0.0.1:9").address("bob")


PLUGIN_TESTS = """
import smtplib
import pytest

def send(server, to, subject):
    with smtplib.SMTP(server.host, server.smtp_port) as client:
        client.sendmail("app@example.com", [to], f"Subject: {subject}\\r\\n\\r\\n".encode())

@pytest.mark.parametrize("n", range(4))
def test_each_test_has_a_namespace_of_its_own(mail_server, n):
    send(mail_server, mail_server.address("bob"), f"mail {n}")
    assert [m["subject"] for m in mail_server.wait_for_messages(1)] == [f"mail {n}"]
    assert mail_server.messages(mailbox=None)[0]["subject"] == f"mail {n}"
    open(f"ns-{mail_server.namespace}", "w").close()  # xdist workers print nothing

@pytest.mark.mail_server(users="x:y")
def test_settings_cannot_apply_remotely(mail_server):
    pass
"""


def test_the_plugin_gives_each_test_a_namespace_of_the_server_at_the_url(pytester, shared):
    server, token = shared
    pytester.makepyfile(PLUGIN_TESTS)
    args = ["-p", "no:cacheprovider", "-n", "2", f"--mail-server-url={server.http_url}"]
    if token:
        args.append(f"--mail-server-token={token}")
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4, skipped=1)
    assert len(list(pytester.path.glob("ns-*"))) == 4  # one namespace per test
    # every namespace was dropped after its test
    lister = RemoteMailServer(server.http_url)
    assert lister._call("GET", "/namespaces", token=token) == []


def test_the_plugin_reads_elektromail_url(pytester, shared, monkeypatch):
    server, token = shared
    monkeypatch.setenv("ELEKTROMAIL_URL", server.http_url)
    if token:
        monkeypatch.setenv("ELEKTROMAIL_HTTP_TOKEN", token)
    pytester.makepyfile(PLUGIN_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "own")
    result.assert_outcomes(passed=4)


def shared_server_example() -> str:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", readme, re.DOTALL):
        if "def test_" in block and "mail_server.address" in block:
            return block
    raise AssertionError("no shared-server example in the README")


def test_the_readme_shared_server_example_is_ten_lines_and_passes(pytester, shared):
    server, token = shared
    example = shared_server_example()
    assert len(example.strip().splitlines()) <= 10
    pytester.makepyfile(example)
    args = ["-p", "no:cacheprovider", f"--mail-server-url={server.http_url}"]
    if token:
        args.append(f"--mail-server-token={token}")
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=1)
    # and the same test against a server in the process
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_release_through_the_servers_relay():
    with MailServer(users="bob:pw", http_port=None, imap_port=None, pop3_port=None) as up:
        with MailServer(
            http_port=0, relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="none"
        ) as server:
            with RemoteMailServer(server.http_url) as remote:
                raw = b"Subject: out\r\n\r\n.dot\r\n\xc3\xa9\r\n"
                remote.add_user("carol", "pw")
                uid = remote.inject("carol", raw)
                out = remote.release(uid, to=["bob@localhost"], user="carol")
                assert out["reply"]["code"] == 250
                assert [m["raw"] for m in up.wait_for_messages(1, user="bob")] == [raw]
                with pytest.raises(RemoteError) as caught:
                    remote.release(uid, user="carol")  # injected, no To or Cc
                assert caught.value.status == 400 and "'to'" in caught.value.error
                with pytest.raises(RemoteError) as caught:
                    remote.release(uid, to=["bob@localhost"], user="carol", sender="a\r\nb")
                assert caught.value.status == 400
                with pytest.raises(RemoteError) as caught:
                    remote.release(uid + 1, to=["bob@localhost"], user="carol")
                assert caught.value.status == 404
    # The upstream is gone: its port is closed now.
    with MailServer(
        http_port=0, relay_host="127.0.0.1", relay_port=up.smtp_port, relay_tls="none"
    ) as server:
        with RemoteMailServer(server.http_url) as remote:
            remote.add_user("carol", "pw")
            uid = remote.inject("carol", b"Subject: out\r\n\r\nx\r\n")
            with pytest.raises(RemoteError) as caught:
                remote.release(uid, to=["bob@localhost"], user="carol")
            assert caught.value.status == 502
            assert caught.value.details["upstream"] is None
            assert caught.value.details["recipients"] == []
